"""The simulated source APIs: CRM (SOQL), PSA (REST), ERP (SuiteQL), iPaaS job log."""
