// A webhook that third parties call: checks a shared token and echoes what it was sent.
exports.handler = async function(event) {
  const { body, headers, queryParameters } = event.request;
  if (headers['x-webhook-token'] !== event.secrets.WEBHOOK_TOKEN) {
    return { accepted: false, reason: 'bad token' };
  }
  const { orderId, amount } = body;
  return {
    accepted: true,
    orderId,
    doubled: amount * 2,
    source: queryParameters.source,
    requestId: headers['x-request-id'],
  };
};
