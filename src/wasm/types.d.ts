/** Codes of validation problems and failed operations (reference API spelling). */
export type ErrorCode =
  | "MissingParameter"
  | "InvalidParameter"
  | "InvalidParameterValue"
  | "UnknownParameter"
  | "InvalidParameter.InvalidVodFileName"
  | "InvalidParameter.DomainFormatError"
  | "InvalidParameter.InvalidTaskTime"
  | "InvalidParameter.ConfNotFound"
  | "InvalidParameter.InvalidCallbackUrl"
  | "InvalidParameter.TaskNotExist"
  | "UnsupportedOperation"
  | "FailedOperation.RuleAlreadyExist"
  | "FailedOperation.ConfInUsed"
  | "FailedOperation.NotFound"
  | "InternalError.ConfOutLimit"
  | "InternalError.RuleOutLimit"
  | "InternalError.ConfNotFound"
  | "InternalError.RuleNotFound"
  | "LimitExceeded.MaximumRunningTask"
  | "AuthFailure.PushAuthMissing"
  | "AuthFailure.InvalidTxTime"
  | "AuthFailure.PushSignatureFailure"
  | "AuthFailure.PushSignatureExpire"
  | "InvalidParameter.InvalidMixInputParam"
  | "InvalidParameter.CancelSessionNotExist"
  | "InvalidParameter.SessionOutputStreamChanged"
  | "FailedOperation.ProcessMixError"
  | "LimitExceeded";

/** One validation problem. `field` is a dotted path such as `Mp4Param.RecordInterval`. */
export interface Problem {
  code: ErrorCode;
  field: string;
  message: string;
}

/** Codes carried by thrown errors (misuse, or values a function cannot use). */
export type MisuseCode =
  | "MissingArgument"
  | "InvalidArgument"
  | "InvalidParameter.InvalidVodFileName"
  | "InvalidParameterValue"
  | "LimitExceeded"
  | "NotMediaPlaylist"
  | "EmptyPlaylist"
  | "IncompatiblePlaylists"
  | "InvalidRange";

/** The `Error` thrown on misuse. */
export interface LiverecError extends Error {
  code: MisuseCode;
}

/** RecordParam as a request may give it. */
export interface RecordParamInput {
  RecordInterval?: number;
  StorageTime?: number;
  Enable?: 0 | 1;
  VodSubAppId?: number;
  VodFileName?: string;
  Procedure?: string;
  StorageMode?: "normal" | "cold" | "";
  ClassId?: number | null;
  CosBucketName?: string;
  CosBucketRegion?: string;
  CosBucketPath?: string;
}

/** RecordParam with every default filled in. */
export interface RecordParam {
  RecordInterval: number;
  StorageTime: number;
  Enable: 0 | 1;
  VodSubAppId: number;
  VodFileName: string;
  Procedure: string;
  StorageMode: "normal" | "cold";
  ClassId: number | null;
  CosBucketName: string;
  CosBucketRegion: string;
  CosBucketPath: string;
}

/** A CreateLiveRecordTemplate body (TemplateId allowed, so Describe output round-trips). */
export interface RecordTemplateInput {
  TemplateId?: number;
  TemplateName: string;
  Description?: string;
  FlvParam?: RecordParamInput;
  HlsParam?: RecordParamInput;
  Mp4Param?: RecordParamInput;
  AacParam?: RecordParamInput;
  Mp3Param?: RecordParamInput;
  IsDelayLive?: 0 | 1;
  HlsSpecialParam?: { FlowContinueDuration?: number };
  FlvSpecialParam?: { UploadInRecording?: boolean };
  RemoveWatermark?: boolean;
  CosStore?: 0 | 1;
}

/** RecordTemplateInfo with defaults materialised. */
export interface RecordTemplate {
  TemplateId?: number;
  TemplateName: string;
  Description: string;
  FlvParam: RecordParam;
  HlsParam: RecordParam;
  Mp4Param: RecordParam;
  AacParam: RecordParam;
  Mp3Param: RecordParam;
  IsDelayLive: 0 | 1;
  HlsSpecialParam: { FlowContinueDuration: number };
  FlvSpecialParam: { UploadInRecording: boolean };
  RemoveWatermark: boolean;
  CosStore: 0 | 1;
}

export interface TemplateValidation {
  ok: boolean;
  errors: Problem[];
  template: RecordTemplate;
}

/** A recording rule as given (RuleInfo; empty AppName/StreamName match any). */
export interface RecordRuleInput {
  TemplateId: number;
  DomainName: string;
  AppName?: string;
  StreamName?: string;
  CreateTime?: string;
  UpdateTime?: string;
}

export interface RecordRule {
  TemplateId: number;
  DomainName: string;
  AppName: string;
  StreamName: string;
  CreateTime: string;
  UpdateTime: string;
}

/** A pushed stream. */
export interface StreamRef {
  DomainName: string;
  AppName?: string;
  StreamName?: string;
}

/** Priority 1 = domain+app+stream, 2 = domain+stream, 3 = domain+app, 4 = domain. */
export interface RuleResolution {
  rule: RecordRule;
  priority: 1 | 2 | 3 | 4;
}

/** A CreateRecordTask body. Times are Unix seconds. */
export interface RecordTaskInput {
  StreamName: string;
  DomainName: string;
  AppName: string;
  EndTime: number;
  StartTime?: number;
  StreamType?: 0 | 1;
  TemplateId?: number;
  Extension?: string;
}

export interface RecordTask {
  TaskId: string;
  DomainName: string;
  AppName: string;
  StreamName: string;
  StartTime: number;
  EndTime: number;
  TemplateId: number;
  Stopped: number;
  StreamType: 0 | 1;
  Extension: string;
}

export interface TaskValidation {
  ok: boolean;
  errors: Problem[];
  task: RecordTask;
}

/** A mix input's layout (CommonMixLayoutParams): sizes and positions in whole pixels
 * (0–2000) or as fractions (0.01–0.99) of the background. */
export interface MixLayoutInput {
  ImageLayer: number;
  InputType?: 0 | 3 | 4 | 5;
  ImageWidth?: number;
  ImageHeight?: number;
  LocationX?: number;
  LocationY?: number;
  Color?: string;
}

/** One mix input (CommonMixInputParam). */
export interface MixInputInput {
  InputStreamName: string;
  LayoutParams: MixLayoutInput;
  CropParams?: { CropWidth: number; CropHeight: number; CropStartLocationX?: number; CropStartLocationY?: number };
}

/** A CreateCommonMixStream request body. */
export interface MixStreamInput {
  MixStreamSessionId: string;
  InputStreamList: MixInputInput[];
  OutputParams: {
    OutputStreamName: string;
    OutputStreamType?: 0 | 1;
    OutputStreamBitRate?: number;
    OutputStreamGop?: number;
    OutputStreamFrameRate?: number;
    OutputAudioBitRate?: number;
    OutputAudioSampleRate?: number;
    OutputAudioChannels?: 1 | 2;
    MixSei?: string;
  };
  MixStreamTemplateId?: number;
  ControlParams?: { UseMixCropCenter?: 0 | 1; AllowCopy?: 0 | 1; PassInputSei?: 0 | 1; UsePictureTransparent?: 0 | 1 };
}

/** The result of validateMixStream: the session as the server would store it. */
export interface MixValidation {
  ok: boolean;
  errors: Problem[];
  session: MixStreamInput | null;
}

/** Everything that decides what a push records. */
export interface RecordingConfig {
  templates?: Array<Partial<RecordTemplate> & { TemplateId: number }>;
  rules?: RecordRuleInput[];
  tasks?: Array<Partial<RecordTask> & { TaskId: string; DomainName: string; AppName: string; StreamName: string; EndTime: number }>;
}

export type Format = "flv" | "hls" | "mp4" | "aac";

export interface OutputPlan {
  format: Format;
  /** Seconds per file; null for HLS. */
  recordIntervalSeconds: number | null;
  /** Retention; 0 keeps forever. */
  storageTimeSeconds: number;
  /** Pattern in effect (the default when the template's is empty). */
  vodFileName: string;
  /** HLS auto-splice timeout; null for other formats. */
  flowContinueSeconds: number | null;
}

export interface RulePlan {
  rule: RecordRule;
  priority: 1 | 2 | 3 | 4;
  /** null when the rule names a template that no longer exists. */
  template: RecordTemplate | null;
  /** Empty: "do not record". */
  outputs: OutputPlan[];
}

export interface TaskPlan {
  task: RecordTask;
  /** Unix seconds the task stops recording. */
  endTime: number;
  template: RecordTemplate;
  outputs: OutputPlan[];
}

export interface RecordingPlan {
  record: boolean;
  rule: RulePlan | null;
  tasks: TaskPlan[];
  pendingTasks: Array<{ taskId: string; startTime: number; endTime: number }>;
}

/** StartMs / EndMs are Unix milliseconds; UtcOffsetMinutes defaults to 480 (UTC+8). */
export interface FileNameInputs {
  StreamID: string;
  StartMs: number;
  EndMs: number;
  UtcOffsetMinutes?: number;
}

export interface PushVerificationInput {
  /** The domain's keys: master, then backup. Empty strings are ignored. */
  keys: string[];
  AuthDelta?: number;
  StreamName: string;
  txSecret: string;
  txTime: string;
}

export interface PushVerification {
  ok: boolean;
  code: ErrorCode | null;
  message: string;
  /** Which of `keys` signed the push. */
  keyIndex: number | null;
}

/** A playlist problem (RFC 8216 rules). `line` is 1-based (0: the playlist as a whole). */
export interface PlaylistDiagnostic {
  code: string;
  line: number;
  message: string;
  severity: "error" | "warning";
}

export interface PlaylistInspection {
  kind: "media" | "master" | "unknown";
  version: number;
  targetDuration: number | null;
  mediaSequence: number;
  discontinuitySequence: number;
  playlistType: "VOD" | "EVENT" | null;
  endList: boolean;
  segmentCount: number;
  totalDurationSeconds: number;
  maxSegmentDurationSeconds: number;
  discontinuities: Array<{ segment: number; mediaSequence: number; line: number; timeSeconds: number }>;
  programDateTime: { start: string; end: string; startMs: number; endMs: number } | null;
  gaps: Array<{ segment: number; seconds: number }>;
  errors: number;
  warnings: number;
  diagnostics: PlaylistDiagnostic[];
}

export interface SegmentInfo {
  index: number;
  uri: string;
  /** `uri` resolved against the playlist's base URL. */
  resolvedUri: string;
  /** Seconds. */
  duration: number;
  mediaSequence: number;
  discontinuity: boolean;
  /** ISO 8601, explicit or derived. */
  programDateTime: string | null;
  byteRange: { length: number; offset: number | null } | null;
  mapUri: string | null;
  gap: boolean;
  line: number;
}

/** Seconds from the start (numbers) or wall-clock instants (ISO strings or Dates). */
export interface ClipRange {
  start?: number | string | Date;
  end?: number | string | Date;
}

export interface ClipSummary {
  firstSegment: number;
  segmentCount: number;
  mediaSequence: number;
  /** The EXT-X-START TIME-OFFSET written: where the range starts in the first segment. */
  startOffsetSeconds: number;
  startSeconds: number;
  endSeconds: number;
  durationSeconds: number;
}

export interface ClipResult {
  playlist: Playlist;
  summary: ClipSummary;
}

export interface SpliceOptions {
  order?: "given" | "programDateTime";
  gaps?: "discontinuity" | "gapSegments";
  /** Largest PROGRAM-DATE-TIME mismatch still continuous; default 250. */
  toleranceMs?: number;
  /** "discontinuity": every join between sources is one (separate recordings, whose
   * media timestamps restart even when their PROGRAM-DATE-TIMEs line up); default "auto". */
  joins?: "auto" | "discontinuity";
}

export interface SpliceJoin {
  segment: number;
  discontinuity: boolean;
  reason: "noProgramDateTime" | "gap" | "overlap" | "initChanged" | "keyChanged" | "sourceDiscontinuity" | null;
  gapSeconds: number | null;
  gapSegments: number;
}

export interface SpliceSummary {
  sources: number;
  order: number[];
  segments: number;
  joins: SpliceJoin[];
  durationSeconds: number;
}

export interface SpliceResult {
  playlist: Playlist;
  summary: SpliceSummary;
}
