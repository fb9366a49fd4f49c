def handle(event, context):
    """Answers one request made to the function.

    event.body is the request body (bytes); event.headers, event.method,
    event.path and event.query describe the rest. Return a str or bytes (the
    body), a dict or list (sent as JSON), or a dict with "statusCode",
    "headers" and "body" to choose the status and headers too.
    """
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "text/plain; charset=utf-8"},
        "body": "Hello from gofaas! You sent %d bytes to %s %s\n"
        % (len(event.body), event.method, event.path),
    }
