"""CostPilot: wires the Chalice app. Routes live in chalicelib/api blueprints; handlers elsewhere."""

from chalice import Chalice

from chalicelib.api import auth_routes, docs_routes, http, workspace_routes
from chalicelib.logs import configure_logging

app = Chalice(app_name="costpilot")
app.debug = False
configure_logging(app)
app.register_middleware(http.middleware, "http")
app.register_blueprint(docs_routes.bp)
app.register_blueprint(auth_routes.bp)
app.register_blueprint(workspace_routes.bp)
