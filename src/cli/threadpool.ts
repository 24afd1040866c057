/**
 * Why: the daemon's I/O pool (io_concurrency, default 16) keeps that many file WOs fsyncing at once, and libuv's
 * thread pool (4 threads by default) would make the intake's lstat/rename wait behind them. libuv reads
 * UV_THREADPOOL_SIZE when the pool is first used, so this is the CLI entry's first import: it runs before any
 * module does asynchronous file I/O. An operator's own value is kept.
 */
if (process.argv[2] === 'daemon' && !process.env.UV_THREADPOOL_SIZE) process.env.UV_THREADPOOL_SIZE = '16';
export {};
