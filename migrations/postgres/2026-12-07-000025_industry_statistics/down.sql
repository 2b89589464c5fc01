DROP TABLE industry_outbox;
DROP TABLE industry_summaries;
DROP TABLE industry_reminders;
DROP TABLE industry_periods;
DROP TABLE industry_reports;
DROP TABLE industry_form_units;
DROP TABLE industry_forms;
DROP TABLE sanxin_classes;
