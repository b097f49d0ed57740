import { mockApis } from '@backstage/test-utils';

type Verdict = Exclude<
  NonNullable<
    NonNullable<Parameters<typeof mockApis.permission>[0]>['authorize']
  >,
  Function
>;

/** A permission API that allows, or denies, every request. */
export function permissionApi(allowed: boolean) {
  return mockApis.permission({
    authorize: (allowed ? 'ALLOW' : 'DENY') as unknown as Verdict,
  });
}
