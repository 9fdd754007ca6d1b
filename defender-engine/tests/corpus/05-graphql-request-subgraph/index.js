const { request, gql } = require('graphql-request');

const POOL_QUERY = gql`
  query Pool($id: ID!) {
    pool(id: $id) {
      id
      token0 { symbol }
      token1 { symbol }
      totalValueLockedUSD
    }
  }
`;

exports.handler = async function(event) {
  const { SUBGRAPH_URL } = event.secrets;
  const { pool } = await request(SUBGRAPH_URL, POOL_QUERY, { id: '0x8ad599c3a0ff1de082011efddc58f1908eb6e6d8' });
  const tvl = Number(pool.totalValueLockedUSD);
  console.log(`${pool.token0.symbol}/${pool.token1.symbol} TVL ${tvl}`);
  return { pair: `${pool.token0.symbol}/${pool.token1.symbol}`, tvl, low: tvl < 1000000 };
};
