"""Pure domain logic: no boto3, PynamoDB, httpx or os.environ in this package."""
