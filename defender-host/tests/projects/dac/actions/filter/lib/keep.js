exports.keep = (e) => e.matchReasons.length > 0;
