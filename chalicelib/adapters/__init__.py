"""Edges to AWS services other than DynamoDB: KMS secrets, SQS queues, SES email."""
