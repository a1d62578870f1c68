/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  // One Temporal dev server and one Postgres for the whole suite (see test/global-setup.ts).
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  testTimeout: 120_000,
  reporters: ['default', '<rootDir>/test/helpers/summary-reporter.js'],
  // Two cores: the servers, the workers and the carrier all share them.
  maxWorkers: 2,
  // The Temporal native bridge keeps an unref'ed handle that Jest reports (sdk-typescript#928).
  forceExit: true,
};
