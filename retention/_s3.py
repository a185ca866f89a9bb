"""The one place Guarita talks S3: a typed bucket over aiobotocore, errors translated once.

aiobotocore ships no type information, so its client is held as ``Any`` here and nowhere
else; callers get ``CloudBucket`` methods that take and return plain types. botocore's
errors become ``CloudError`` (``CloudAuthError`` when the store refuses the keys) with
``raise … from exc``. Keys and secrets are never logged or put in a message.

Covers: BH-06, BH-07.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

from aiobotocore.config import AioConfig  # type: ignore[import-untyped]
from aiobotocore.session import get_session  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from guarita.config import CloudConfig
from guarita.retention.footage import RetentionError

__all__ = ["CloudAuthError", "CloudBucket", "CloudError", "ObjectInfo", "S3Access", "open_bucket"]

log = logging.getLogger(__name__)

SHA256_META = "sha256"
_AUTH_CODES = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken"}
DELETE_BATCH = 1000  # the most keys one DeleteObjects call takes


class CloudError(RetentionError):
    """The cloud store could not be used (unreachable, refused, missing bucket)."""


class CloudAuthError(CloudError):
    """The cloud store refused Guarita's access key or signature."""


@dataclass(frozen=True)
class S3Access:
    """Where the bucket is and the keys that open it."""

    endpoint: str
    bucket: str
    region: str
    access_key: str
    secret_key: str
    max_connections: int = 10

    def __repr__(self) -> str:  # never show the keys
        return f"S3Access(endpoint={self.endpoint!r}, bucket={self.bucket!r}, region={self.region!r})"

    @classmethod
    def for_config(cls, cloud: CloudConfig) -> S3Access:
        """The access a loaded config's ``retention.cloud`` gives.

        Raises:
            CloudError: the keys were not resolved (the config was not loaded by the loader).
        """
        if cloud.access_key is None or cloud.secret_key is None:
            raise CloudError("retention.cloud has no access key or secret key")
        return cls(cloud.endpoint, cloud.bucket, cloud.region, cloud.access_key.get_secret_value(),
                   cloud.secret_key.get_secret_value(), max_connections=max(10, cloud.concurrency * 2))


@dataclass(frozen=True)
class ObjectInfo:
    """An object as the bucket describes it."""

    key: str
    size: int
    metadata: dict[str, str]


@contextmanager
def _translated(what: str, bucket: str) -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "")) or str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        if code in _AUTH_CODES:
            raise CloudAuthError(
                f"the cloud store refused Guarita's keys for bucket {bucket} ({code}) while trying to {what}; "
                "check retention.cloud access_key_*/secret_key_*"
            ) from exc
        if code in {"404", "NoSuchBucket"}:
            raise CloudError(f"bucket {bucket} does not exist on the cloud store (create it first)") from exc
        raise CloudError(f"the cloud store refused to {what} ({code}: {error.get('Message', '')})") from exc
    except BotoCoreError as exc:
        raise CloudError(f"the cloud store could not {what}: {exc}") from exc


class CloudBucket:
    """One bucket through an open aiobotocore client."""

    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self.name = bucket

    async def check(self) -> None:
        """Fail early, clearly, on wrong keys or a missing bucket."""
        with _translated("open the bucket", self.name):
            await self._client.head_bucket(Bucket=self.name)

    async def put(self, key: str, body: bytes, sha256: str) -> None:
        """Store ``body`` at ``key`` with its SHA-256 in the metadata (one request: all or nothing)."""
        with _translated(f"upload {key}", self.name):
            await self._client.put_object(Bucket=self.name, Key=key, Body=body, ContentType="video/mp4",
                                          Metadata={SHA256_META: sha256})

    async def head(self, key: str) -> ObjectInfo:
        """Size and metadata of ``key``."""
        with _translated(f"read {key}", self.name):
            answer = await self._client.head_object(Bucket=self.name, Key=key)
        return ObjectInfo(key, int(answer["ContentLength"]), dict(answer.get("Metadata", {})))

    async def read(self, key: str) -> bytes:
        """The bytes of ``key``."""
        with _translated(f"read {key}", self.name):
            answer = await self._client.get_object(Bucket=self.name, Key=key)
            async with answer["Body"] as body:
                data: bytes = await body.read()
        return data

    async def presigned_get(self, key: str, expires_s: int) -> str:
        """A GET address of ``key`` that works for ``expires_s`` seconds (signed locally; carries no key)."""
        url: str = await self._client.generate_presigned_url(
            "get_object", Params={"Bucket": self.name, "Key": key}, ExpiresIn=expires_s)
        return url

    async def keys(self, prefix: str = "") -> list[str]:
        """Every key under ``prefix``, in key order."""
        found: list[str] = []
        with _translated(f"list {prefix or 'the bucket'}", self.name):
            async for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix):
                found += [item["Key"] for item in page.get("Contents", [])]
        return found

    async def delete(self, keys: Sequence[str]) -> list[str]:
        """Delete ``keys`` (a missing key counts as deleted); return the keys that failed."""
        failed: list[str] = []
        for begin in range(0, len(keys), DELETE_BATCH):
            batch = [{"Key": key} for key in keys[begin : begin + DELETE_BATCH]]
            with _translated("delete objects", self.name):
                answer = await self._client.delete_objects(Bucket=self.name, Delete={"Objects": batch, "Quiet": True})
            failed += [error["Key"] for error in answer.get("Errors", [])]
        return failed

    async def create(self) -> None:
        """Create the bucket (test stand-ins and benchmarks; operators create theirs)."""
        with _translated("create the bucket", self.name):
            await self._client.create_bucket(Bucket=self.name)


@asynccontextmanager
async def open_bucket(access: S3Access) -> AsyncIterator[CloudBucket]:
    """An aiobotocore S3 client for ``access``, closed on exit."""
    config = AioConfig(
        s3={"addressing_style": "path"},
        max_pool_connections=access.max_connections,
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=10,
        read_timeout=60,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    session = get_session()
    async with session.create_client(
        "s3", endpoint_url=access.endpoint, region_name=access.region, aws_access_key_id=access.access_key,
        aws_secret_access_key=access.secret_key, config=config,
    ) as client:
        yield CloudBucket(client, access.bucket)
