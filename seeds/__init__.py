"""Data the application needs in its database to work: the component catalog and its seeding."""
