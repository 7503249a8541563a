"""CostPilot: wires the Chalice app. Routes live in chalicelib/api blueprints; handler bodies in
chalicelib/handlers.py. Queue names come from the stage (read when Chalice imports this file)."""

from chalice import Chalice, Rate

from chalicelib import handlers, structured_log
from chalicelib.adapters.queues import ALERTS, SYNC, queue_name
from chalicelib.api import (
    account_routes,
    alert_routes,
    auth_routes,
    billing_routes,
    budget_routes,
    connection_routes,
    dashboard_routes,
    docs_routes,
    http,
    insight_routes,
    key_routes,
    otlp_routes,
    page_routes,
    sms_routes,
    token_routes,
    usage_routes,
    workspace_routes,
)

app = Chalice(app_name="costpilot", configure_logs=False)  # Powertools Logger formats the "costpilot" logger
app.debug = False
structured_log.logger()
app.register_middleware(http.middleware, "http")
app.register_blueprint(docs_routes.bp)
app.register_blueprint(auth_routes.bp)
app.register_blueprint(account_routes.bp)
app.register_blueprint(workspace_routes.bp)
app.register_blueprint(connection_routes.bp)
app.register_blueprint(alert_routes.bp)
app.register_blueprint(usage_routes.bp)
app.register_blueprint(insight_routes.bp)
app.register_blueprint(billing_routes.bp)
app.register_blueprint(otlp_routes.bp)
app.register_blueprint(token_routes.bp)
app.register_blueprint(budget_routes.bp)
app.register_blueprint(key_routes.bp)
app.register_blueprint(sms_routes.bp)
app.api.binary_types.append("application/x-protobuf")  # OTLP exports and their answers
app.register_blueprint(dashboard_routes.bp)
app.register_blueprint(page_routes.bp)


@app.schedule(Rate(5, unit=Rate.MINUTES), name="scheduler")
def scheduler(event):
    return handlers.scheduled_sync(event)


@app.on_sqs_message(queue=queue_name(SYNC), batch_size=5, name="sync_worker")
def sync_worker(event):
    return handlers.sync_worker(event)


@app.schedule(Rate(1, unit=Rate.HOURS), name="billing_reconciler")
def billing_reconciler(event):
    return handlers.billing_reconciler(event)


@app.on_sqs_message(queue=queue_name(ALERTS), batch_size=10, name="alert_evaluator")
def alert_evaluator(event):
    return handlers.alert_evaluator(event)


@app.on_sqs_message(queue=queue_name("alert-deliveries"), batch_size=10, name="alert_delivery_worker")
def alert_delivery_worker(event):
    return handlers.alert_delivery_worker(event)


@app.schedule(Rate(5, unit=Rate.MINUTES), name="alert_sweep")
def alert_sweep(event):
    return handlers.alert_sweep(event)
