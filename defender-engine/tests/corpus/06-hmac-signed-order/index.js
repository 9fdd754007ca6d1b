const crypto = require('crypto');

// An exchange's REST API that authenticates requests with an HMAC-SHA256 of
// timestamp + method + path + body, keyed with the API secret.
exports.handler = async function(event) {
  const { EXCHANGE_URL, EXCHANGE_API_KEY, EXCHANGE_API_SECRET } = event.secrets;
  const path = '/api/v3/order';
  const body = JSON.stringify({ symbol: 'ETHUSDC', side: 'SELL', type: 'LIMIT', quantity: '0.5', price: '3500.00' });
  const timestamp = Date.now().toString();
  const signature = crypto
    .createHmac('sha256', EXCHANGE_API_SECRET)
    .update(timestamp + 'POST' + path + body)
    .digest('hex');

  const response = await fetch(EXCHANGE_URL + path, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'X-API-KEY': EXCHANGE_API_KEY,
      'X-TIMESTAMP': timestamp,
      'X-SIGNATURE': signature,
    },
    body,
  });
  if (!response.ok) throw new Error(`order refused: ${response.status} ${await response.text()}`);
  return response.json();
};
