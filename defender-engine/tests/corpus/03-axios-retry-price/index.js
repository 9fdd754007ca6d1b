const axios = require('axios');
const axiosRetry = require('axios-retry');

// The price API is flaky: retry idempotent requests on 5xx and network errors.
axiosRetry(axios, { retries: 3, retryDelay: (retryCount) => retryCount * 20 });

exports.handler = async function(event) {
  const { PRICE_API_URL } = event.secrets;
  const response = await axios.get(`${PRICE_API_URL}/flaky/price`, {
    params: { symbol: 'ETH', convert: 'USD' },
    headers: { Accept: 'application/json' },
  });
  const { price, symbol } = response.data;
  console.log(`${symbol} is at ${price}`);
  return { status: response.status, symbol, price, attempts: response.config['axios-retry'].retryCount + 1 };
};
