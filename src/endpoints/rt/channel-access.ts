import { type ChannelAction, forbidden } from '../../hub/permissions.js';
import type { Session } from '../../hub/session.js';
import { maySeeRunChannel } from '../../tasks/runs/run-access.js';
import type { RunService } from '../../tasks/runs/run-service.js';

/**
 * What one `/rt` connection may do on channels: its principal's channel grants, plus reading
 * (`subscribe`, `history`) the channel `run:<id>` of every run the principal may see, so a
 * client can follow its own runs after a reconnect without a grant on all of `run:*`. The
 * principal is read on every check, so a `refresh` takes effect at once.
 */
export class ChannelAccess {
  constructor(
    private readonly session: Session,
    private readonly runs: RunService | undefined,
  ) {}

  may(action: ChannelAction, channel: string): boolean {
    const principal = this.session.principal;
    if (principal.permissions.can(action, channel)) return true;
    return (
      (action === 'subscribe' || action === 'history') && maySeeRunChannel(principal, channel, this.runs)
    );
  }

  /** Throws `forbidden` unless `may`. */
  assert(action: ChannelAction, channel: string): void {
    if (!this.may(action, channel)) throw forbidden(action, channel);
  }
}
