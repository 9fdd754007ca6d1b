exports.isLarge = (value) => BigInt(value) >= 5000n;
