"""A fake S3 on loopback for tests: moto's standalone server, spoken to over the real S3 HTTP API
(boto3 and django-storages sign their requests exactly as they would against AWS or MinIO)."""
from __future__ import annotations

import uuid

import boto3
from botocore.config import Config
from moto.server import ThreadedMotoServer

REGION = "eu-west-1"
#: Throwaway credentials for the fake server only; tests assert the secret never leaks.
ACCESS_KEY_ID = "AKIASHOTSTUDIOTEST01"
SECRET_ACCESS_KEY = "shot-studio-test-secret-" + "x" * 16


class FakeS3:
    """``with FakeS3() as s3:`` → moto_server on 127.0.0.1, a free port; ``s3.new_bucket()`` per test."""

    def __init__(self):
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.endpoint_url = ""

    def __enter__(self) -> "FakeS3":
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        self.client = boto3.client(
            "s3", endpoint_url=self.endpoint_url, region_name=REGION, aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY, config=Config(s3={"addressing_style": "path"}))
        return self

    def __exit__(self, *exc) -> None:
        self._server.stop()

    def new_bucket(self) -> str:
        name = f"studio-test-{uuid.uuid4().hex[:12]}"
        self.client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def head(self, bucket: str, key: str) -> dict:
        return self.client.head_object(Bucket=bucket, Key=key)

    def get(self, bucket: str, key: str) -> bytes:
        return self.client.get_object(Bucket=bucket, Key=key)["Body"].read()


def use_s3(settings, s3: FakeS3, bucket: str) -> None:
    """Point Django's default storage at ``bucket`` the way studio/settings.py does for production.

    The AWS_* settings go first and STORAGES last: changing STORAGES is what makes Django
    rebuild ``default_storage``, and S3Storage reads the AWS_* settings when it is built.
    """
    settings.AWS_STORAGE_BUCKET_NAME = bucket
    settings.AWS_S3_ENDPOINT_URL = s3.endpoint_url
    settings.AWS_S3_REGION_NAME = REGION
    settings.AWS_ACCESS_KEY_ID = ACCESS_KEY_ID
    settings.AWS_SECRET_ACCESS_KEY = SECRET_ACCESS_KEY
    settings.AWS_DEFAULT_ACL = None
    settings.AWS_QUERYSTRING_AUTH = True
    settings.AWS_QUERYSTRING_EXPIRE = 300
    settings.AWS_S3_FILE_OVERWRITE = False
    settings.AWS_S3_SIGNATURE_VERSION = "s3v4"
    settings.AWS_S3_ADDRESSING_STYLE = "path"
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "storages.backends.s3.S3Storage"}}
