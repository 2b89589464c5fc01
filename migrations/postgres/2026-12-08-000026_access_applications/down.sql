DROP TABLE access_applications;
