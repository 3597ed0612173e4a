/** The methods of the submission and vacation-response capabilities (RFC 8621 §6–§8), for the method table (routes.ts). */
import type { ListenerDeps } from '../../listener.ts';
import type { MethodDef } from '../api.ts';
import type { JmapServices } from '../services.ts';
import { emailSubmissionMethods } from './email-submission.ts';
import { identityMethods } from './identity.ts';
import { vacationResponseMethods } from './vacation-response.ts';

export function sendingMethods(svc: JmapServices, deps: Pick<ListenerDeps, 'adapters' | 'config' | 'logger'>): Record<string, MethodDef> {
  return { ...identityMethods(svc), ...emailSubmissionMethods(svc, deps), ...vacationResponseMethods(svc) };
}
