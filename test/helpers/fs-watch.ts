/**
 * Watching what a real logger does to one directory's names, in this process: the fs calls that
 * create a file in it (sync or through the thread pool), link one into it, and fsync the directory
 * itself. What reaches the disk cannot be seen without cutting the power; the order of these
 * calls can (test/core/fsync-dir-sync.test.ts, test/core/content-dir-sync.test.ts).
 */
import fs from "node:fs";
import path from "node:path";

/**
 * Pushes onto `seen`, in order: `create <name>` (a file opened in `dir` that did not exist),
 * `link <name>` (a hard link made in it) and `fsync directory` (an fsync of `dir`, on this thread
 * or the thread pool, once it returned). Returns the function that restores fs.
 */
export function watchDirectory(dir: string, seen: string[]): () => void {
  const orig = { openSync: fs.openSync, open: fs.open, linkSync: fs.linkSync, fsyncSync: fs.fsyncSync, fsync: fs.fsync, closeSync: fs.closeSync, close: fs.close };
  const dirFds = new Set<number>();
  const inDir = (p: unknown): p is string => typeof p === "string" && path.dirname(path.resolve(p)) === dir;
  const isDir = (p: unknown): boolean => typeof p === "string" && path.resolve(p) === dir;
  fs.openSync = ((p: fs.PathLike, ...rest: unknown[]) => {
    const existed = inDir(p) && fs.existsSync(p);
    const fd = (orig.openSync as (...a: unknown[]) => number)(p, ...rest);
    if (isDir(p)) dirFds.add(fd);
    else if (inDir(p) && !existed) seen.push(`create ${path.basename(p)}`);
    return fd;
  }) as typeof fs.openSync;
  fs.open = ((p: fs.PathLike, ...rest: unknown[]) => {
    const cb = rest.pop() as (err: NodeJS.ErrnoException | null, fd: number) => void;
    const existed = inDir(p) && fs.existsSync(p);
    (orig.open as (...a: unknown[]) => void)(p, ...rest, (err: NodeJS.ErrnoException | null, fd: number) => {
      if (!err && isDir(p)) dirFds.add(fd);
      else if (!err && inDir(p) && !existed) seen.push(`create ${path.basename(p)}`);
      cb(err, fd);
    });
  }) as typeof fs.open;
  fs.linkSync = ((from: fs.PathLike, to: fs.PathLike) => {
    orig.linkSync(from, to);
    if (inDir(to)) seen.push(`link ${path.basename(to)}`);
  }) as typeof fs.linkSync;
  fs.fsyncSync = ((fd: number) => {
    orig.fsyncSync(fd);
    if (dirFds.has(fd)) seen.push("fsync directory");
  }) as typeof fs.fsyncSync;
  fs.fsync = ((fd: number, cb: (err: NodeJS.ErrnoException | null) => void) =>
    orig.fsync(fd, (err) => {
      if (!err && dirFds.has(fd)) seen.push("fsync directory");
      cb(err);
    })) as typeof fs.fsync;
  fs.closeSync = ((fd: number) => {
    dirFds.delete(fd);
    orig.closeSync(fd);
  }) as typeof fs.closeSync;
  fs.close = ((fd: number, cb?: (err: NodeJS.ErrnoException | null) => void) => {
    dirFds.delete(fd);
    orig.close(fd, cb);
  }) as typeof fs.close;
  return () => Object.assign(fs, orig);
}
