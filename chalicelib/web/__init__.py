"""The dashboard's files (a no-build Preact + htm single-page app) and how they are served."""
