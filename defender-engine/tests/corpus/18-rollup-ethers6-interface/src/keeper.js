export const KEEPER_ADDRESS = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
export const KEEPER_ABI = ['function canExecute() view returns (bool)', 'function execute()'];
