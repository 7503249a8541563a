"""Provider clients: pull usage and cost from third-party APIs as ``UsageRecord``s. No AWS state here."""
