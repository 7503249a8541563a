"""Deployment: the declarations (resources.json, deploy.json, deploy-access.json) and the packaging
that merges them with Chalice's template (package.sh -> package.py, template.py, checks.py)."""
