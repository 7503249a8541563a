"""CostPilot's code, in floors. A module imports its own package and the floors below it, never a
floor above nor a sibling on its own floor (tests/unit/test_floor_plan.py checks it, imports inside
functions and ``lazy("...")`` names included, and that there is no import cycle):

    handlers, tools   Lambda handler bodies (app.py wires them), repair commands
          |
         api          HTTP: routes, validation, auth, error mapping, OpenAPI; thin views over services
          |
       services       use cases. At their bottom plan_limits (the plan in force and its checks),
          |           which every other service may ask; alerts: alert_queue -> alert_eval
          |           (evaluation; spike_rule) -> alert_firing -> alert_delivery, sharing alert_facts
          |           with digest
          |
  store  adapters  providers   tables (PynamoDB, key layouts) | KMS, SES, SQS, Stripe, webhooks |
          |                    one httpx client per provider API (registry.make_client)
  aws, structured_log   AWS clients, JSON log lines (Powertools Logger)
          |
        config        settings: pure reads of the environment
          |
       engines        numbers: forecasts, spikes, insights (numpy; imported inside functions)
          |
        domain        what things are: money, records, plans, rules, messages (pure)
          |
   errors, lazy, web  leaves

``domain`` and ``engines`` import no boto3, botocore, PynamoDB, httpx, Chalice or Stripe. Imports sit
at the top of each file; heavy third-party packages (numpy, stripe, the encryption SDK, argon2) are
imported where they are used, to keep them off the Lambda cold start, and routes and handlers name
their services through ``chalicelib.lazy`` for the same reason.
"""
