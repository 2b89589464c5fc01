DROP TABLE enrolment_requests;
DROP TABLE federation_received;
DROP TABLE federation_messages;
