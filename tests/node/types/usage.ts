// Type-checked by package.test.mjs: the declarations describe real use.
import {
  initSync, validateTemplate, resolveRule, validateRecordTask, planRecording,
  renderFileName, pushSecret, verifyPush,
  type TemplateValidation, type RuleResolution, type RecordingPlan, type Problem,
} from "../../../pkg/liverec.js";

declare const bytes: Uint8Array;
initSync({ module: bytes });

const v: TemplateValidation = validateTemplate({ TemplateName: "t", HlsParam: { Enable: 1 } });
const firstProblem: Problem | undefined = v.errors[0];
const interval: number = v.template.Mp4Param.RecordInterval;
const found: RuleResolution | null = resolveRule([{ TemplateId: 1, DomainName: "d.com" }], { DomainName: "d.com" });
const level: 1 | 2 | 3 | 4 | undefined = found?.priority;
const task = validateRecordTask({ DomainName: "d", AppName: "live", StreamName: "s", EndTime: 2 }, 1);
const start: number = task.task.StartTime;
const plan: RecordingPlan = planRecording({ templates: [], rules: [], tasks: [] }, { DomainName: "d" }, 1);
const formats: string[] = plan.rule?.outputs.map((o) => o.format) ?? [];
const name: string = renderFileName("", { StreamID: "s", StartMs: 0, EndMs: 1 });
const secret: string = pushSecret("k", "s", "5C271099");
const verdict = verifyPush({ keys: ["k"], StreamName: "s", txSecret: secret, txTime: "5C271099" }, 0);
const idx: number | null = verdict.keyIndex;
export { firstProblem, interval, level, start, formats, name, idx };
