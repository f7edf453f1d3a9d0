import { closeSync, copyFileSync, existsSync, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { openSqlite } from '../../src/engine/sqlite/driver.js';
import { tempDir } from './server.js';

const PAGE = 4096;

/**
 * Makes every write to a SQLite store file fail, from another connection, as a failing disk
 * would (a trigger raising an error on each insert and update of its tables). The process
 * that has the file open notices at its next write. Returns the repair.
 */
export function breakWrites(file: string, tables = ['publications', 'streams', 'meta']): () => void {
  const db = openSqlite(file);
  const names: string[] = [];
  for (const table of tables) {
    for (const op of ['INSERT', 'UPDATE']) {
      const name = `fail_${op}_${table}`;
      db.exec(
        `CREATE TRIGGER ${name} BEFORE ${op} ON ${table} BEGIN SELECT RAISE(ABORT, 'injected write failure'); END`,
      );
      names.push(name);
    }
  }
  return () => {
    for (const name of names) db.exec(`DROP TRIGGER ${name}`);
    db.close();
  };
}

/**
 * What the disk holds if the process dies right now (kill -9): the database with its WAL and
 * shared-memory index, copied while the process keeps running.
 */
export function crashImage(file: string): string {
  const copy = join(tempDir(), 'crashed.db');
  for (const suffix of ['', '-wal', '-shm']) {
    if (existsSync(file + suffix)) copyFileSync(file + suffix, copy + suffix);
  }
  return copy;
}

/** Overwrites one whole page in the middle of a (checkpointed) file: a torn write, a bad sector. */
export function corruptMiddlePage(file: string): void {
  const pages = Math.floor(statSync(file).size / PAGE);
  if (pages < 20) throw new Error(`${file} has only ${pages} pages: too small to damage its middle`);
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.alloc(PAGE, 0xab), 0, PAGE, Math.floor(pages / 2) * PAGE);
  closeSync(fd);
}

/** Overwrites a file's SQLite header ("SQLite format 3\0" and what follows). */
export function corruptHeader(file: string): void {
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.alloc(100, 0x5a), 0, 100, 0);
  closeSync(fd);
}
