"""tests/cli/moto_s3.py - the S3 side of tests/cli/test_remote_s3.sh, run with the moto
venv's python (boto3 comes with moto).

  moto_s3.py setup ENDPOINT BUCKET    makes BUCKET, an IAM user allowed s3:* and its key, then
                                      turns moto's signature checks on; prints
                                      "KEY_ID SECRET"
  moto_s3.py assume ENDPOINT         assumes the role "cache" as that user (its key in the
                                      environment); prints "KEY_ID SECRET SESSION_TOKEN"
  moto_s3.py corrupt ENDPOINT BUCKET PREFIX TEXT
                                      overwrites the object under PREFIX/cas/ whose bytes hold
                                      TEXT with other bytes; prints its key
  moto_s3.py check ENDPOINT BUCKET PREFIX
                                      prints "RECORDS OBJECTS BAD": the counts under PREFIX/ac/
                                      and PREFIX/cas/, and how many objects do not hash to
                                      their names

Moto takes any credentials until its auth emulation is on (POST /moto-api/reset-auth); from
then on it checks SigV4 signatures against its IAM users' keys, so a signing bug fails the
test instead of passing unnoticed (../shared/notes/scale-out.md C4)."""
import hashlib
import json
import sys
import urllib.request

import boto3

ADMIN = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing",
         "region_name": "us-east-1"}


def client(endpoint, service, **creds):
    return boto3.client(service, endpoint_url=endpoint, **(creds or ADMIN))


def setup(endpoint, bucket):
    client(endpoint, "s3").create_bucket(Bucket=bucket)
    iam = client(endpoint, "iam")
    iam.create_user(UserName="ikada")
    iam.put_user_policy(UserName="ikada", PolicyName="cache", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:*", "sts:AssumeRole"],
                       "Resource": "*"}]}))
    iam.create_role(RoleName="cache", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                       "Principal": {"AWS": "*"}}]}))
    iam.put_role_policy(RoleName="cache", PolicyName="cache", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="ikada")["AccessKey"]
    req = urllib.request.Request(endpoint + "/moto-api/reset-auth", data=b"0", method="POST",
                                 headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(req).read()
    print(key["AccessKeyId"], key["SecretAccessKey"])


def user_client(endpoint):
    # Once auth is on, only the IAM user's key is accepted; it is in the environment.
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


def assume(endpoint):
    sts = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1")
    role = "arn:aws:iam::123456789012:role/cache"
    creds = sts.assume_role(RoleArn=role, RoleSessionName="ikada")["Credentials"]
    print(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])


def keys(s3, bucket, prefix):
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def corrupt(endpoint, bucket, prefix, text):
    s3 = user_client(endpoint)
    for key in keys(s3, bucket, prefix + "/cas/"):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        if text.encode() in body:
            s3.put_object(Bucket=bucket, Key=key, Body=b"evil\n")
            print(key)
            return
    sys.exit("no object under %s/cas/ holds %r" % (prefix, text))


def check(endpoint, bucket, prefix):
    s3 = user_client(endpoint)
    objects = keys(s3, bucket, prefix + "/cas/")
    bad = sum(hashlib.sha256(s3.get_object(Bucket=bucket, Key=k)["Body"].read()).hexdigest()
              != k.rsplit("/", 1)[1] for k in objects)
    print(len(keys(s3, bucket, prefix + "/ac/")), len(objects), bad)


if __name__ == "__main__":
    {"setup": setup, "assume": assume, "corrupt": corrupt, "check": check}[sys.argv[1]](*sys.argv[2:])
