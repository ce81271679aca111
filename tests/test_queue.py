"""The SQS-compatible queue service: boto3, the AWS CLI and raw query-protocol requests
against the real server, including long polling, visibility, redrive and durability."""

import hashlib
import json
import signal
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, REGION

NS = {"sqs": "http://queue.amazonaws.com/doc/2012-11-05/"}


@pytest.fixture(scope="module")
def sqs(server):
    return server.client("sqs")


@pytest.fixture
def queue_name(request):
    return f"{request.node.name[:40]}-{uuid.uuid4().hex[:8]}".replace("[", "-").replace("]", "")


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def poll(condition, timeout=30, interval=0.1):
    """Calls `condition` until it returns something true, or fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def receive_one(sqs, url, **kwargs):
    messages = sqs.receive_message(QueueUrl=url, **kwargs).get("Messages", [])
    return messages[0] if messages else None


def attribute_counts(sqs, url):
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        int(attributes["ApproximateNumberOfMessagesDelayed"]),
    )


def test_queue_lifecycle_create_get_list_delete(server, sqs, queue_name):
    url = sqs.create_queue(QueueName=queue_name, Attributes={"VisibilityTimeout": "45"})["QueueUrl"]
    assert url == f"{server.url}/{ACCOUNT}/{queue_name}"
    assert sqs.create_queue(QueueName=queue_name, Attributes={"VisibilityTimeout": "45"})["QueueUrl"] == url
    assert sqs.get_queue_url(QueueName=queue_name)["QueueUrl"] == url
    assert sqs.list_queues(QueueNamePrefix=queue_name)["QueueUrls"] == [url]

    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["QueueArn"] == f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_name}"
    assert attributes["VisibilityTimeout"] == "45"
    assert attributes["MessageRetentionPeriod"] == "345600"
    assert int(attributes["CreatedTimestamp"]) <= int(attributes["LastModifiedTimestamp"])
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "5", "MessageRetentionPeriod": "600"})
    only = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["DelaySeconds"])["Attributes"]
    assert only == {"DelaySeconds": "5"}

    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(ClientError) as excinfo:
        sqs.get_queue_url(QueueName=queue_name)
    assert error_code(excinfo) == "AWS.SimpleQueueService.NonExistentQueue"
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix=queue_name)


def test_queue_url_other_host(sqs, queue_name):
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    rewritten = f"http://sqs.example.invalid/{ACCOUNT}/{queue_name}"
    sqs.send_message(QueueUrl=rewritten, MessageBody="via another host")
    assert receive_one(sqs, url)["Body"] == "via another host"


def test_create_queue_with_different_attributes_fails(sqs, queue_name):
    sqs.create_queue(QueueName=queue_name, Attributes={"VisibilityTimeout": "10"})
    with pytest.raises(ClientError) as excinfo:
        sqs.create_queue(QueueName=queue_name, Attributes={"VisibilityTimeout": "11"})
    assert error_code(excinfo) == "QueueAlreadyExists"
    assert "VisibilityTimeout" in excinfo.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    "name, attributes, code",
    [
        ("bad!name", {}, "InvalidParameterValue"),
        ("x" * 81, {}, "InvalidParameterValue"),
        ("queue.fifo", {"FifoQueue": "true"}, "InvalidParameterValue"),
        ("ok-name", {"VisibilityTimeout": "43201"}, "InvalidAttributeValue"),
        ("ok-name", {"MessageRetentionPeriod": "59"}, "InvalidAttributeValue"),
        ("ok-name", {"Colour": "red"}, "InvalidAttributeName"),
        ("ok-name", {"RedrivePolicy": '{"deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:none", '
                                      '"maxReceiveCount": 2}'}, "InvalidParameterValue"),
    ],
)
def test_create_queue_rejects_invalid_input(sqs, name, attributes, code):
    with pytest.raises(ClientError) as excinfo:
        sqs.create_queue(QueueName=name, Attributes=attributes)
    assert error_code(excinfo) == code
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_fifo_rejection_names_the_limit(sqs):
    with pytest.raises(ClientError) as excinfo:
        sqs.create_queue(QueueName="orders.fifo", Attributes={"FifoQueue": "true"})
    assert "FIFO queues are not supported" in excinfo.value.response["Error"]["Message"]


def test_receive_rejects_values_outside_the_limits(sqs, queue_name):
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    for kwargs in ({"MaxNumberOfMessages": 11}, {"MaxNumberOfMessages": 0}, {"WaitTimeSeconds": 21},
                   {"VisibilityTimeout": 43201}):
        with pytest.raises(ClientError) as excinfo:
            sqs.receive_message(QueueUrl=url, **kwargs)
        assert error_code(excinfo) == "InvalidParameterValue", kwargs
        assert str(list(kwargs.values())[0]) in excinfo.value.response["Error"]["Message"]


def test_send_rejects_oversized_and_invalid_messages(sqs, queue_name):
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    with pytest.raises(ClientError) as excinfo:
        sqs.send_message(QueueUrl=url, MessageBody="x" * (262144 + 1))
    assert error_code(excinfo) == "InvalidParameterValue"
    assert "262144" in excinfo.value.response["Error"]["Message"]
    sqs.send_message(QueueUrl=url, MessageBody="x" * 262144)
    with pytest.raises(ClientError) as excinfo:
        sqs.send_message(QueueUrl=url, MessageBody="bad \u0001 character")
    assert error_code(excinfo) == "InvalidMessageContents"
    with pytest.raises(ClientError) as excinfo:
        sqs.send_message(QueueUrl=url, MessageBody="m", DelaySeconds=901)
    assert error_code(excinfo) == "InvalidParameterValue"
    with pytest.raises(ClientError) as excinfo:
        sqs.send_message(QueueUrl=url, MessageBody="m",
                         MessageAttributes={"n": {"DataType": "Number", "StringValue": "not a number"}})
    assert error_code(excinfo) == "InvalidParameterValue"
    with pytest.raises(ClientError) as excinfo:
        sqs.send_message(QueueUrl=f"{url}-missing", MessageBody="m")
    assert error_code(excinfo) == "AWS.SimpleQueueService.NonExistentQueue"


def test_send_and_receive_with_message_and_system_attributes(sqs, queue_name):
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    attributes = {
        "colour": {"DataType": "String", "StringValue": "red"},
        "count": {"DataType": "Number", "StringValue": "42"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"},
        "tag.one": {"DataType": "String.custom", "StringValue": "x"},
    }
    body = "héllo\r\n<world> & \"quotes\""
    # boto3 checks MD5OfMessageBody and MD5OfMessageAttributes of both responses itself.
    sent = sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attributes)
    assert sent["MD5OfMessageBody"] == hashlib.md5(body.encode()).hexdigest()
    assert "MD5OfMessageAttributes" in sent

    message = receive_one(sqs, url, MessageAttributeNames=["All"], AttributeNames=["All"])
    assert message["MessageId"] == sent["MessageId"]
    assert message["Body"] == body
    assert message["MessageAttributes"] == attributes
    assert message["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    system = message["Attributes"]
    assert system["SenderId"] == ACCOUNT
    assert system["ApproximateReceiveCount"] == "1"
    assert int(system["SentTimestamp"]) <= int(system["ApproximateFirstReceiveTimestamp"])

    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    again = receive_one(sqs, url, MessageAttributeNames=["tag.*"], MessageSystemAttributeNames=["ApproximateReceiveCount"])
    assert again["MessageAttributes"] == {"tag.one": attributes["tag.one"]}
    assert again["Attributes"] == {"ApproximateReceiveCount": "2"}


def test_visibility_timeout_hides_a_message_until_it_expires(sqs, queue_name):
    url = sqs.create_queue(QueueName=queue_name, Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="once")
    first = receive_one(sqs, url, AttributeNames=["ApproximateReceiveCount"])
    assert first is not None
    assert attribute_counts(sqs, url)[1] == 1
    assert receive_one(sqs, url, VisibilityTimeout=30) is None

    second = poll(lambda: receive_one(sqs, url, AttributeNames=["ApproximateReceiveCount"], VisibilityTimeout=30))
    assert second["MessageId"] == first["MessageId"]
    assert second["Attributes"]["ApproximateReceiveCount"] == "2"
    assert second["ReceiptHandle"] != first["ReceiptHandle"]

    sqs.delete_message(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"])
    assert attribute_counts(sqs, url) == (0, 0, 0)
    # Deleting a message that is gone already succeeds, as in SQS.
    sqs.delete_message(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"])
    with pytest.raises(ClientError) as excinfo:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"], VisibilityTimeout=5)
    assert error_code(excinfo) == "AWS.SimpleQueueService.MessageNotInflight"
    with pytest.raises(ClientError) as excinfo:
        sqs.delete_message(QueueUrl=url, ReceiptHandle="not-a-receipt-handle")
    assert error_code(excinfo) == "ReceiptHandleIsInvalid"


def test_long_poll_woken_by_send(server, queue_name):
    sqs = server.client("sqs", read_timeout=60)
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    result = {}

    def receive():
        started = time.monotonic()
        result["messages"] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20).get("Messages", [])
        result["seconds"] = time.monotonic() - started

    waiter = threading.Thread(target=receive)
    waiter.start()
    # The receive must be waiting before the send; nothing observable marks that moment.
    time.sleep(1)
    server.client("sqs").send_message(QueueUrl=url, MessageBody="wake up")
    waiter.join(timeout=60)
    assert [m["Body"] for m in result["messages"]] == ["wake up"]
    # Woken by the send, not by the end of the 20 s wait.
    assert result["seconds"] < 18


def test_long_poll_delayed_message(sqs, queue_name):
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=2)
    assert attribute_counts(sqs, url) == (0, 0, 1)
    assert receive_one(sqs, url) is None
    messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=15).get("Messages", [])
    assert [m["Body"] for m in messages] == ["later"]


def test_receive_returns_at_most_max_number_of_messages(sqs, queue_name):
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    for i in range(12):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(first) == 10
    rest = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in first + rest) == sorted(f"m{i}" for i in range(12))


def test_redrive_after_max_receive_count(sqs, queue_name):
    dlq_url = sqs.create_queue(QueueName=f"{queue_name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": policy})
    stored = json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])
                        ["Attributes"]["RedrivePolicy"])
    assert stored == {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}

    sent = sqs.send_message(QueueUrl=url, MessageBody="poison")
    for count in ("1", "2"):
        message = receive_one(sqs, url, VisibilityTimeout=0, AttributeNames=["ApproximateReceiveCount"])
        assert message["Attributes"]["ApproximateReceiveCount"] == count
    assert receive_one(sqs, url, VisibilityTimeout=0) is None
    assert attribute_counts(sqs, url) == (0, 0, 0)

    dead = receive_one(sqs, dlq_url, WaitTimeSeconds=5)
    assert (dead["MessageId"], dead["Body"]) == (sent["MessageId"], "poison")


def test_batch_operations_report_entries_and_batch_errors(sqs, queue_name):
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    result = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "a", "MessageBody": "one"},
        {"Id": "b", "MessageBody": "two", "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}},
        {"Id": "c", "MessageBody": "late", "DelaySeconds": 901},
    ])
    assert sorted(e["Id"] for e in result["Successful"]) == ["a", "b"]
    assert [(f["Id"], f["Code"], f["SenderFault"]) for f in result["Failed"]] == [
        ("c", "InvalidParameterValue", True)]

    for entries, code in [
        ([{"Id": str(i), "MessageBody": "x"} for i in range(11)],
         "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"),
        ([{"Id": "same", "MessageBody": "x"}, {"Id": "same", "MessageBody": "y"}],
         "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"),
        ([], "AWS.SimpleQueueService.EmptyBatchRequest"),
        ([{"Id": "no spaces", "MessageBody": "x"}], "AWS.SimpleQueueService.InvalidBatchEntryId"),
        ([{"Id": "a", "MessageBody": "x" * 200000}, {"Id": "b", "MessageBody": "y" * 200000}],
         "AWS.SimpleQueueService.BatchRequestTooLong"),
    ]:
        with pytest.raises(ClientError) as excinfo:
            sqs.send_message_batch(QueueUrl=url, Entries=entries)
        assert error_code(excinfo) == code

    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in messages) == ["one", "two"]
    entries = [{"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
    entries.append({"Id": "bad", "ReceiptHandle": "garbage"})
    deleted = sqs.delete_message_batch(QueueUrl=url, Entries=entries)
    assert sorted(e["Id"] for e in deleted["Successful"]) == ["d0", "d1"]
    assert [(f["Id"], f["Code"]) for f in deleted["Failed"]] == [("bad", "ReceiptHandleIsInvalid")]
    assert attribute_counts(sqs, url) == (0, 0, 0)


def test_purge_deletes_every_message(sqs, queue_name):
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    for body in ("a", "b", "c"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    receive_one(sqs, url)
    sqs.purge_queue(QueueUrl=url)
    assert attribute_counts(sqs, url) == (0, 0, 0)
    assert receive_one(sqs, url) is None


def test_metrics_report_queue_depth(server, sqs, queue_name):
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    for body in ("a", "b", "c"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    sqs.send_message(QueueUrl=url, MessageBody="d", DelaySeconds=600)
    receive_one(sqs, url, VisibilityTimeout=600)
    text = urllib.request.urlopen(f"{server.url}/metrics", timeout=10).read().decode()
    for metric, value in [("visible", 2), ("in_flight", 1), ("delayed", 1)]:
        assert f'flicker_queue_messages_{metric}{{queue="{queue_name}"}} {value}\n' in text


def test_aws_cli_sends_receives_and_deletes(server, queue_name):
    code, created, err = server.aws("sqs", "create-queue", "--queue-name", queue_name, check=True)
    url = created["QueueUrl"]
    server.aws("sqs", "send-message", "--queue-url", url, "--message-body", "from the cli",
               "--message-attributes", '{"k": {"DataType": "String", "StringValue": "v"}}', check=True)
    code, received, err = server.aws("sqs", "receive-message", "--queue-url", url,
                                     "--message-attribute-names", "All", "--wait-time-seconds", "5", check=True)
    message = received["Messages"][0]
    assert message["Body"] == "from the cli"
    assert message["MessageAttributes"]["k"]["StringValue"] == "v"
    server.aws("sqs", "delete-message", "--queue-url", url, "--receipt-handle", message["ReceiptHandle"], check=True)
    code, attributes, err = server.aws("sqs", "get-queue-attributes", "--queue-url", url,
                                       "--attribute-names", "ApproximateNumberOfMessages", check=True)
    assert attributes["Attributes"] == {"ApproximateNumberOfMessages": "0"}
    code, _, err = server.aws("sqs", "get-queue-url", "--queue-name", f"{queue_name}-missing")
    assert code != 0
    assert "NonExistentQueue" in err


def query(url, params, method="POST"):
    """Sends a query-protocol request; returns (status, parsed XML root)."""
    data = urllib.parse.urlencode(params).encode()
    if method == "GET":
        request = urllib.request.Request(f"{url}?{data.decode()}", method="GET")
    else:
        request = urllib.request.Request(url, data=data, method="POST",
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, ET.fromstring(response.read())
    except urllib.error.HTTPError as err:
        return err.code, ET.fromstring(err.read())


def test_query_protocol_with_form_posts_and_get(server, queue_name):
    status, root = query(server.url + "/", {"Action": "CreateQueue", "QueueName": queue_name,
                                            "Attribute.1.Name": "VisibilityTimeout", "Attribute.1.Value": "20"})
    assert status == 200
    url = root.find("sqs:CreateQueueResult/sqs:QueueUrl", NS).text
    assert url == f"{server.url}/{ACCOUNT}/{queue_name}"

    status, root = query(url, {"Action": "SendMessage", "MessageBody": "a & b",
                               "MessageAttribute.1.Name": "k", "MessageAttribute.1.Value.DataType": "String",
                               "MessageAttribute.1.Value.StringValue": "v"})
    assert status == 200
    result = root.find("sqs:SendMessageResult", NS)
    assert result.find("sqs:MD5OfMessageBody", NS).text == hashlib.md5(b"a & b").hexdigest()
    message_id = result.find("sqs:MessageId", NS).text

    status, root = query(url, {"Action": "ReceiveMessage", "AttributeName.1": "All",
                               "MessageAttributeName.1": "All"}, method="GET")
    assert status == 200
    message = root.find("sqs:ReceiveMessageResult/sqs:Message", NS)
    assert message.find("sqs:MessageId", NS).text == message_id
    assert message.find("sqs:Body", NS).text == "a & b"
    names = {a.find("sqs:Name", NS).text for a in message.findall("sqs:Attribute", NS)}
    assert {"SenderId", "SentTimestamp", "ApproximateReceiveCount"} <= names
    attribute = message.find("sqs:MessageAttribute", NS)
    assert attribute.find("sqs:Name", NS).text == "k"
    assert attribute.find("sqs:Value/sqs:StringValue", NS).text == "v"

    status, root = query(server.url + "/", {"Action": "GetQueueAttributes", "QueueUrl": url,
                                            "AttributeName.1": "VisibilityTimeout"})
    attribute = root.find("sqs:GetQueueAttributesResult/sqs:Attribute", NS)
    assert (attribute.find("sqs:Name", NS).text, attribute.find("sqs:Value", NS).text) == ("VisibilityTimeout", "20")

    status, root = query(f"{server.url}/{ACCOUNT}/{queue_name}-missing", {"Action": "SendMessage",
                                                                          "MessageBody": "x"})
    assert status == 400
    assert root.find("sqs:Error/sqs:Type", NS).text == "Sender"
    assert root.find("sqs:Error/sqs:Code", NS).text == "AWS.SimpleQueueService.NonExistentQueue"
    status, root = query(server.url + "/", {"Action": "NoSuchAction"})
    assert (status, root.find("sqs:Error/sqs:Code", NS).text) == (400, "InvalidAction")


def test_json_protocol_errors_carry_the_query_error_header(server):
    request = urllib.request.Request(
        server.url + "/", method="POST", data=json.dumps({"QueueName": "no-such-queue"}).encode(),
        headers={"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS.GetQueueUrl"})
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(request, timeout=10)
    assert excinfo.value.code == 400
    assert excinfo.value.headers["x-amzn-query-error"] == "AWS.SimpleQueueService.NonExistentQueue;Sender"
    body = json.loads(excinfo.value.read())
    assert body == {"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": "The specified queue does not exist."}


def test_messages_survive_a_restart(start_server):
    server = start_server()
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName="durable", Attributes={"VisibilityTimeout": "600"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="in flight")
    in_flight = receive_one(sqs, url)
    assert in_flight["Body"] == "in flight"
    sqs.send_message(QueueUrl=url, MessageBody="kept",
                     MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
    server.restart()

    sqs = server.client("sqs")
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"] == {
        "VisibilityTimeout": "600"}
    assert attribute_counts(sqs, url) == (1, 1, 0)
    message = receive_one(sqs, url, MessageAttributeNames=["All"])
    assert message["Body"] == "kept"
    assert message["MessageAttributes"] == {"k": {"DataType": "String", "StringValue": "v"}}
    sqs.delete_message(QueueUrl=url, ReceiptHandle=in_flight["ReceiptHandle"])
    assert attribute_counts(sqs, url) == (0, 1, 0)


def test_message_survives_kill_9(start_server):
    server = start_server()
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName="crash")["QueueUrl"]
    sent = sqs.send_message(QueueUrl=url, MessageBody="must not be lost")
    server.stop(sig=signal.SIGKILL)
    server.start()

    message = receive_one(server.client("sqs"), url, WaitTimeSeconds=5)
    assert (message["MessageId"], message["Body"]) == (sent["MessageId"], "must not be lost")


def test_attribute_values_with_characters_outside_xml_are_rejected(server, sqs, queue_name):
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    for value in ["nul \u0000 here", "bell \u0007", "\ufffe"]:
        with pytest.raises(ClientError) as excinfo:
            sqs.send_message(QueueUrl=url, MessageBody="m",
                             MessageAttributes={"k": {"DataType": "String", "StringValue": value}})
        assert error_code(excinfo) == "InvalidParameterValue"
        assert "'k'" in excinfo.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as excinfo:
        sqs.send_message(QueueUrl=url, MessageBody="m",
                         MessageAttributes={"k": {"DataType": "String.\u0001", "StringValue": "v"}})
    assert error_code(excinfo) == "InvalidParameterValue"
    with pytest.raises(ClientError) as excinfo:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": "{\u0000}"})
    assert error_code(excinfo) == "InvalidAttributeValue"
    sqs.send_message(QueueUrl=url, MessageBody="m",
                     MessageAttributes={"k": {"DataType": "String", "StringValue": "tab\there \U0001F600"}})
    # The stored message renders as well-formed XML through the query protocol.
    status, root = query(url, {"Action": "ReceiveMessage", "MessageAttributeName.1": "All"})
    assert status == 200
    value = root.find("sqs:ReceiveMessageResult/sqs:Message/sqs:MessageAttribute/sqs:Value/sqs:StringValue", NS)
    assert value.text == "tab\there \U0001F600"
    assert attribute_counts(sqs, url) == (0, 1, 0)


def test_batch_size_limit_counts_message_attributes(sqs, queue_name):
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    big = {"k": {"DataType": "String", "StringValue": "v" * 200000}}
    with pytest.raises(ClientError) as excinfo:
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": "a", "MessageBody": "x", "MessageAttributes": big},
            {"Id": "b", "MessageBody": "y", "MessageAttributes": big},
        ])
    assert error_code(excinfo) == "AWS.SimpleQueueService.BatchRequestTooLong"
    assert attribute_counts(sqs, url) == (0, 0, 0)


def test_stale_receipt_handle_visibility_rejected(sqs, queue_name):
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="once at a time")
    first = receive_one(sqs, url, VisibilityTimeout=60)["ReceiptHandle"]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first, VisibilityTimeout=0)
    second = receive_one(sqs, url, VisibilityTimeout=60)
    assert second["Body"] == "once at a time"
    # The first receiver's handle is stale: it must not expose the message to a third receiver.
    with pytest.raises(ClientError) as excinfo:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first, VisibilityTimeout=0)
    assert error_code(excinfo) == "AWS.SimpleQueueService.MessageNotInflight"
    assert receive_one(sqs, url) is None
    assert attribute_counts(sqs, url) == (0, 1, 0)
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"], VisibilityTimeout=0)
    assert attribute_counts(sqs, url) == (1, 0, 0)


def test_stopping_the_server_ends_long_polls(start_server):
    server = start_server()
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName="stopping")["QueueUrl"]
    results = []

    def long_poll():
        try:
            results.append(sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20).get("Messages", []))
        except Exception as err:  # kept, so that the assertion below shows it
            results.append(err)

    pollers = [threading.Thread(target=long_poll) for _ in range(5)]
    for poller in pollers:
        poller.start()
    # Nothing reports a waiting receive, so the polls get a moment to reach the server.
    time.sleep(1)
    # Without ending the polls, a graceful stop waits the full 20 s and stop() times out at 15 s.
    assert server.stop(timeout=15) == 0
    for poller in pollers:
        poller.join(timeout=30)
    assert results == [[]] * 5
