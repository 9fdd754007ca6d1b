const { client, v1 } = require('@datadog/datadog-api-client');

exports.handler = async function(event) {
  const { DD_API_KEY, DD_SITE_URL } = event.secrets;
  const configuration = client.createConfiguration({
    authMethods: { apiKeyAuth: DD_API_KEY },
    baseServer: new client.BaseServerConfiguration(DD_SITE_URL, {}),
  });
  const api = new v1.MetricsApi(configuration);

  const now = Math.round(Date.now() / 1000);
  const result = await api.submitMetrics({
    body: {
      series: [
        {
          metric: 'defender.relayer.balance',
          type: 'gauge',
          points: [[now, 4.2]],
          host: 'defender-action',
          tags: ['network:mainnet', 'relayer:hot-wallet'],
        },
      ],
    },
  });
  console.log(`Datadog answered ${JSON.stringify(result)}`);
  return result;
};
