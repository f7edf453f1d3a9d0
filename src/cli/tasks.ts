import { Command } from 'commander';
import { getJson, type TaskInfo, tokenOption, urlOption } from './server-api.js';

/** `name:type=default` for each input, e.g. `n:integer=5 delayMs:integer=1000`. */
export function describeInputs(task: TaskInfo): string {
  const props = task.inputs.properties ?? {};
  const required = new Set(task.inputs.required ?? []);
  const parts = Object.entries(props).map(([name, p]) => {
    let s = `${name}:${p.type ?? 'any'}`;
    if (p.default !== undefined) s += `=${JSON.stringify(p.default)}`;
    else if (!required.has(name)) s += '?';
    return s;
  });
  return parts.join(' ');
}

export function tasksCommand(): Command {
  return new Command('tasks')
    .description('list the tasks a wirehub server can run')
    .addOption(urlOption())
    .addOption(tokenOption())
    .option('--json', 'print the full list (with JSON Schemas) as JSON')
    .action(async (flags: { url: string; token?: string; json?: boolean }) => {
      const { tasks } = await getJson<{ tasks: TaskInfo[] }>(flags.url, '/api/tasks', flags.token);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(tasks, null, 2)}\n`);
        return;
      }
      if (tasks.length === 0) {
        process.stdout.write('no tasks\n');
        return;
      }
      for (const task of tasks) {
        process.stdout.write(`${task.ref}\n`);
        if (task.description) process.stdout.write(`  ${task.description}\n`);
        const inputs = describeInputs(task);
        process.stdout.write(`  inputs: ${inputs || '(none)'}\n`);
      }
    });
}
