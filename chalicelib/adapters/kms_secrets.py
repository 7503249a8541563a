"""Secrets sealed with the AWS Encryption SDK under the stage's KMS key: a connection's provider
credentials, an alert rule's channel targets (webhook URLs and signing secrets), an ingest key's
signing secret.

Each sealed value belongs to one item of one workspace, and ``kind`` says what it carries (the
provider's name for credentials, ``alert-channels``, the ingest signing purpose). The encryption
context binds the ciphertext to (workspace, item, kind): the context is authenticated (not secret)
data, and ``open_secret`` refuses a ciphertext whose context is not exactly the item's, so a
ciphertext copied to another item, workspace or kind does not decrypt. The stored context keys
are older than the alert and ingest uses and stay as they are, because IAM conditions
(``kms:EncryptionContext:*``) name them: ``connection_id`` holds the item id, ``provider`` the kind,
``purpose`` is always ``provider-credentials``.

The algorithm suite is the committing, non-signing AES-256-GCM one: the same service seals and
opens, so a signature would add cost and no protection.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from chalicelib import aws, config

PURPOSE = "provider-credentials"  # the stored value of the context's "purpose" key, for every kind


class SecretUnreadable(Exception):
    """The ciphertext is corrupt, under another key, or belongs to another item. Never holds plaintext."""


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


def context(workspace_id: str, item_id: str, kind: str) -> dict[str, str]:
    """The encryption context of ``kind`` sealed for ``item_id`` (stored keys: see the module doc)."""
    return {"purpose": PURPOSE, "workspace_id": workspace_id, "connection_id": item_id, "provider": kind}


def seal(values: dict[str, str], workspace_id: str, item_id: str, kind: str) -> bytes:
    """Encrypts ``values`` (a small JSON object) for one item of one workspace."""
    client, (key_provider, algorithm) = _sdk()
    ciphertext, _ = client.encrypt(
        source=json.dumps(values, sort_keys=True).encode(),
        key_provider=key_provider,
        encryption_context=context(workspace_id, item_id, kind),
        algorithm=algorithm,
    )
    return ciphertext


def open_secret(ciphertext: bytes, workspace_id: str, item_id: str, kind: str) -> dict[str, str]:
    """The values sealed for exactly this (workspace, item, kind); ``SecretUnreadable`` otherwise."""
    client, (key_provider, _) = _sdk()
    expected = context(workspace_id, item_id, kind)
    try:
        plaintext, header = client.decrypt(source=ciphertext, key_provider=key_provider)
    except Exception as e:  # noqa: BLE001 - the SDK raises several types; none carries plaintext
        raise SecretUnreadable(f"the {kind} secret of {item_id} cannot be decrypted ({type(e).__name__})") from None
    if dict(header.encryption_context) != expected:
        raise SecretUnreadable(f"the {kind} secret stored on {item_id} belongs to another item")
    return json.loads(plaintext)
