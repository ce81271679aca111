"""Asynchronous events of a function whose reserved concurrency is 0 go to its failure
destination without running."""

from test_async import RECORDER, arn, calls, invoke_event, make_function, wait_for_calls


def test_reserved_concurrency_zero_fails_events(start_server, function_name, tmp_path):
    server = start_server("--sandbox", "process", "--async-retry-scale", "0.01")
    client = server.client()
    make_function(client, function_name, RECORDER, tmp_path / "source")
    make_function(client, f"{function_name}-dest", RECORDER, tmp_path / "dest")
    client.put_function_event_invoke_config(
        FunctionName=function_name, DestinationConfig={"OnFailure": {"Destination": arn(f"{function_name}-dest")}}
    )
    client.put_function_concurrency(FunctionName=function_name, ReservedConcurrentExecutions=0)
    request_id = invoke_event(client, function_name, {"blocked": True})

    [delivery] = wait_for_calls(tmp_path / "dest", 1)
    record = delivery["event"]
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert record["requestPayload"] == {"blocked": True}
    assert calls(tmp_path / "source") == []
