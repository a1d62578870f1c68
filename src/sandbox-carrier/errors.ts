/**
 * Twilio 2010-API errors. The body is exactly `{code, message, more_info, status}`: adding
 * `type`/`title` would make twilio-node ≥ 5.12 throw TwilioServiceException instead of RestException.
 */

export interface TwilioErrorBody {
  code: number;
  message: string;
  more_info: string;
  status: number;
}

export class TwilioApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'TwilioApiError';
  }

  toBody(): TwilioErrorBody {
    return { code: this.code, message: this.message, more_info: `https://www.twilio.com/docs/errors/${this.code}`, status: this.status };
  }
}

const err = (status: number, code: number, message: string) => new TwilioApiError(status, code, message);

export const errors = {
  authenticate: () => err(401, 20003, 'Authenticate'),
  notFound: (path: string) => err(404, 20404, `The requested resource ${path} was not found`),
  methodNotAllowed: (method: string) => err(405, 20004, `Method not allowed: ${method}`),
  tooManyRequests: () => err(429, 20429, 'Too Many Requests'),
  serverError: (status: number) =>
    err(status, status === 503 ? 20503 : 20500, status === 503 ? 'Service Unavailable' : 'Internal Server Error'),
  noTo: () => err(400, 21201, "No 'To' number is specified"),
  noFrom: () => err(400, 21213, "No 'From' number is specified"),
  invalidTo: (to: string) => err(400, 21211, `The 'To' number ${to} is not a valid phone number.`),
  invalidFrom: (from: string) => err(400, 21212, `The 'From' number ${from} is not a valid phone number, shortcode, or alphanumeric sender ID.`),
  fromNotOwned: (from: string) =>
    err(400, 21210, `The source phone number provided, ${from}, is not yet verified for your account. You may only make calls from phone numbers that you've verified or purchased from Twilio.`),
  noUrl: () => err(400, 21205, 'Url parameter is required. Please provide one of Url, Twiml or ApplicationSid.'),
  invalidUrl: (param: string, value: string) => err(400, 21205, `${param} is not a valid URL: ${value}`),
  invalidApplicationSid: (sid: string) => err(400, 21218, `Invalid ApplicationSid: ${sid}`),
  invalidEvent: (value: string) => err(400, 21626, `Invalid 'StatusCallbackEvent': ${value}`),
  /** Twilio's 21234 "Invalid Machine Detection configuration value" covers every AMD parameter. */
  invalidMachineDetection: (param: string, value: string, allowed: string) =>
    err(400, 21234, `Invalid Machine Detection configuration value: ${param} ${JSON.stringify(value)} is not allowed (${allowed})`),
  unreachable: (to: string) => err(400, 21214, `'To' phone number cannot be reached: ${to}`),
  geoBlocked: (to: string) =>
    err(
      400,
      21215,
      `Account not authorized to call ${to}. Perhaps you need to enable some international permissions: https://www.twilio.com/console/voice/calls/geo-permissions/low-risk`,
    ),
  blocked: (to: string) => err(400, 21216, `Account not allowed to call ${to}`),
  invalidCallState: () => err(400, 21220, 'Unable to update record: Call is not in-progress'),
  invalidUpdateStatus: (value: string) => err(400, 20001, `Invalid 'Status' ${value}: must be canceled or completed`),
  queueFull: () => err(400, 22005, 'Call Queue Full: too many calls are queued for this account'),
};
