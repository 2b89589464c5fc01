DROP TABLE alerts;
DROP TABLE notifications;
DROP TABLE notify_channels;
