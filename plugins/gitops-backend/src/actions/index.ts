export { FluxActions, FluxActionFailedError, outcomeOf } from './FluxActions';
export type {
  OperationStep,
  ReconcileOptions,
  ResumeOptions,
  StepListener,
  WaitOptions,
} from './FluxActions';
export { OperationRunner } from './OperationRunner';
export { fluxKinds, isFluxKind, describeRef } from './fluxKinds';
export type {
  FluxKind,
  FluxObject,
  FluxObjectRef,
  Reconcilable,
} from './fluxKinds';
