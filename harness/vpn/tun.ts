// A TUN device in the caller's namespace (the agent runs inside its node).
import { run } from "../exec";
import * as native from "../native";

export class TunDevice {
  private watcher?: { close(): void };
  private handler: (pkt: Buffer) => void = () => undefined;
  writeErrors = 0;

  private constructor(
    readonly name: string,
    private fd: number,
  ) {
    this.watcher = native.watch(fd, (pkt) => this.handler(pkt));
  }

  /** Create the device, set its MTU and address, bring it up. */
  static async open(name: string, mtu: number, cidr: string): Promise<TunDevice> {
    const fd = native.tunOpen(name);
    const dev = new TunDevice(name, fd);
    try {
      await run(["ip", "link", "set", "dev", name, "mtu", String(mtu), "up"]);
      await run(["ip", "address", "add", cidr, "dev", name]);
    } catch (e) {
      dev.close();
      throw e;
    }
    return dev;
  }

  onPacket(handler: (pkt: Buffer) => void): void {
    this.handler = handler;
  }

  write(pkt: Buffer): void {
    try {
      native.writeFd(this.fd, pkt);
    } catch {
      this.writeErrors++;
    }
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
    if (this.fd >= 0) native.closeFd(this.fd);
    this.fd = -1;
  }
}
