// Scenarios of one run spread over several Docker engines: the runtime's
// generic spread (../spread.ts), its locations being engines.
import type { Engine } from "./engines";
import { Spread } from "../spread";

export class EngineSpread extends Spread<Engine> {
  constructor(engines: readonly Engine[]) {
    super(engines, "Docker engine");
  }

  get engines(): readonly Engine[] {
    return this.places;
  }
}
