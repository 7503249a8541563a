"""Provider credentials sealed with the AWS Encryption SDK under the stage's KMS key.

The encryption context binds a ciphertext to its workspace, connection and provider: the context
is authenticated (not secret) data, and ``open_secret`` refuses a ciphertext whose context is not
exactly the row's, so a ciphertext copied to another connection or workspace does not decrypt.
The algorithm suite is the committing, non-signing AES-256-GCM one: the same service seals and
opens, so a signature would add cost and no protection.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from chalicelib import aws, config

PURPOSE = "provider-credentials"


class SecretUnreadable(Exception):
    """The ciphertext is corrupt, under another key, or belongs to another row. Never holds plaintext."""


@lru_cache(maxsize=1)
def _key_arn() -> str:
    """The KMS key's ARN (config may name an alias); strict mode needs the ARN to decrypt."""
    return aws.client("kms").describe_key(KeyId=config.kms_key_id())["KeyMetadata"]["Arn"]


@lru_cache(maxsize=1)
def _sdk() -> tuple[Any, Any]:
    import aws_encryption_sdk
    from aws_encryption_sdk import CommitmentPolicy
    from aws_encryption_sdk.identifiers import Algorithm

    client = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
    provider = aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=[_key_arn()])
    return client, (provider, Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY)


def reset() -> None:
    _sdk.cache_clear()
    _key_arn.cache_clear()


def context(workspace_id: str, connection_id: str, provider: str) -> dict[str, str]:
    return {"purpose": PURPOSE, "workspace_id": workspace_id, "connection_id": connection_id, "provider": provider}


def seal(credentials: dict[str, str], workspace_id: str, connection_id: str, provider: str) -> bytes:
    client, (key_provider, algorithm) = _sdk()
    ciphertext, _ = client.encrypt(
        source=json.dumps(credentials, sort_keys=True).encode(),
        key_provider=key_provider,
        encryption_context=context(workspace_id, connection_id, provider),
        algorithm=algorithm,
    )
    return ciphertext


def open_secret(ciphertext: bytes, workspace_id: str, connection_id: str, provider: str) -> dict[str, str]:
    client, (key_provider, _) = _sdk()
    expected = context(workspace_id, connection_id, provider)
    try:
        plaintext, header = client.decrypt(source=ciphertext, key_provider=key_provider)
    except Exception as e:  # noqa: BLE001 - the SDK raises several types; none carries plaintext
        raise SecretUnreadable(f"credentials of {connection_id} cannot be decrypted ({type(e).__name__})") from None
    if dict(header.encryption_context) != expected:
        raise SecretUnreadable(f"credentials stored on {connection_id} belong to another connection")
    return json.loads(plaintext)
