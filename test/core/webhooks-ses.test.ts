import { execFileSync } from "node:child_process";
import { createSign } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { certUrlAllowed, snsMessage, stringToSign, topicAllowed, verify } from "../../src/webhooks/ses.ts";

const TOPIC = "arn:aws:sns:us-west-2:123456789012:MyTopic";
const CERT_URL = "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem";

// The shapes of AWS's documented examples ("HTTP/HTTPS notification JSON format" and friends), unsigned.
const NOTIFICATION = {
  Type: "Notification",
  MessageId: "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
  TopicArn: TOPIC,
  Subject: "My First Message",
  Message: JSON.stringify({ notificationType: "Bounce", bounce: { bounceType: "Permanent" }, mail: { messageId: "m1" } }),
  Timestamp: "2012-05-02T00:54:06.655Z",
  SigningCertURL: CERT_URL,
  UnsubscribeURL: `https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=${TOPIC}:c9135db0-26c4-47ec-8998-413945fb5a96`,
};
const { Subject: _subject, ...NOTIFICATION_NO_SUBJECT } = NOTIFICATION;
const CONFIRMATION = {
  Type: "SubscriptionConfirmation",
  MessageId: "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
  Token:
    "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a747ba6f3beb71854e285d6ad02428b09ceece29417f1f02d609c582afbacc99c583a916b9981dd2728f4ae6fdb82efd087cc3b7849e05798d2d2785c03b0879594eeac82c01f235d0e717736",
  TopicArn: TOPIC,
  Message: `You have chosen to subscribe to the topic ${TOPIC}.\nTo confirm the subscription, visit the SubscribeURL included in this message.`,
  SubscribeURL: `https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=${TOPIC}&Token=2336412f37`,
  Timestamp: "2012-04-26T20:45:04.751Z",
  SigningCertURL: CERT_URL,
};
const UNSUBSCRIBE = { ...CONFIRMATION, Type: "UnsubscribeConfirmation", Message: `You have unsubscribed from ${TOPIC}.` };

let dir: string;
let certificatePem: string;
let key: string;
let otherCertificatePem: string;

/** A throwaway RSA key and self-signed certificate, made at run time. */
function makeCertificate(name: string): { cert: string; key: string } {
  const keyFile = join(dir, `${name}.key`);
  const certFile = join(dir, `${name}.pem`);
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyFile, "-out", certFile, "-days", "1", "-subj", "/CN=sns.amazonaws.com"],
    {
      stdio: "ignore",
    },
  );
  return { cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8") };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "sns-cert-"));
  ({ cert: certificatePem, key } = makeCertificate("signer"));
  otherCertificatePem = makeCertificate("other").cert;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Signs as SNS does: RSASSA-PKCS1-v1_5 over AWS's documented string to sign, SHA1 (v1) or SHA256 (v2). */
function signed(message: Record<string, string>, version: "1" | "2", signingKey = key): Record<string, string> {
  const fields =
    message.Type === "Notification"
      ? ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
      : ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"];
  const text = fields
    .filter((name) => name in message)
    .map((name) => `${name}\n${message[name]}\n`)
    .join("");
  const signature = createSign(version === "1" ? "RSA-SHA1" : "RSA-SHA256")
    .update(text)
    .sign(signingKey, "base64");
  return { ...message, SignatureVersion: version, Signature: signature };
}

describe("sns stringToSign", () => {
  const parse = (m: object) => snsMessage.parse({ ...m, SignatureVersion: "2", Signature: "AA==" });
  it("Notification with a Subject", () => {
    expect(stringToSign(parse(NOTIFICATION))).toBe(
      `Message\n${NOTIFICATION.Message}\nMessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\nSubject\nMy First Message\nTimestamp\n2012-05-02T00:54:06.655Z\nTopicArn\n${TOPIC}\nType\nNotification\n`,
    );
  });
  it("Notification without a Subject leaves the field out", () => {
    expect(stringToSign(parse(NOTIFICATION_NO_SUBJECT))).toBe(
      `Message\n${NOTIFICATION.Message}\nMessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\nTimestamp\n2012-05-02T00:54:06.655Z\nTopicArn\n${TOPIC}\nType\nNotification\n`,
    );
  });
  it.each([
    ["SubscriptionConfirmation", CONFIRMATION],
    ["UnsubscribeConfirmation", UNSUBSCRIBE],
  ])("%s", (type, message) => {
    expect(stringToSign(parse(message))).toBe(
      `Message\n${message.Message}\nMessageId\n${message.MessageId}\nSubscribeURL\n${message.SubscribeURL}\nTimestamp\n${message.Timestamp}\nToken\n${message.Token}\nTopicArn\n${TOPIC}\nType\n${type}\n`,
    );
  });
});

describe("sns verify", () => {
  const options = () => ({ certificatePem, topicArns: [TOPIC] });
  const MESSAGES: Array<[string, Record<string, string>]> = [
    ["Notification", NOTIFICATION],
    ["Notification without Subject", NOTIFICATION_NO_SUBJECT],
    ["SubscriptionConfirmation", CONFIRMATION],
    ["UnsubscribeConfirmation", UNSUBSCRIBE],
  ];

  for (const version of ["1", "2"] as const) {
    it.each(MESSAGES)(`SignatureVersion ${version}: valid %s`, async (_name, message) => {
      expect(await verify(signed(message, version), options())).toEqual({ ok: true });
    });
    it.each(MESSAGES)(`SignatureVersion ${version}: tampered Message of %s`, async (_name, message) => {
      expect(await verify({ ...signed(message, version), Message: "Hello world!" }, options())).toEqual({
        ok: false,
        reason: "bad_signature",
      });
    });
    it.each(MESSAGES)(`SignatureVersion ${version}: %s with another certificate`, async (_name, message) => {
      const result = await verify(signed(message, version), { ...options(), certificatePem: otherCertificatePem });
      expect(result).toEqual({ ok: false, reason: "bad_signature" });
    });
  }

  const refused: Array<[string, () => unknown, string]> = [
    ["signed v1, claimed v2", () => ({ ...signed(NOTIFICATION, "1"), SignatureVersion: "2" }), "bad_signature"],
    ["signed v2, claimed v1", () => ({ ...signed(NOTIFICATION, "2"), SignatureVersion: "1" }), "bad_signature"],
    ["Subject added after signing", () => ({ ...signed(NOTIFICATION_NO_SUBJECT, "2"), Subject: "x" }), "bad_signature"],
    ["Subject removed after signing", () => (({ Subject: _s, ...rest }) => rest)(signed(NOTIFICATION, "2")), "bad_signature"],
    ["Type changed", () => ({ ...signed(CONFIRMATION, "2"), Type: "UnsubscribeConfirmation" }), "bad_signature"],
    ["tampered Token", () => ({ ...signed(CONFIRMATION, "2"), Token: "0" }), "bad_signature"],
    ["tampered SubscribeURL", () => ({ ...signed(CONFIRMATION, "2"), SubscribeURL: "https://evil.example/" }), "bad_signature"],
    ["unknown topic", () => signed({ ...NOTIFICATION, TopicArn: `${TOPIC}2` }, "2"), "unknown_topic"],
    [
      "cert URL on another host",
      () => signed({ ...NOTIFICATION, SigningCertURL: "https://evil.example/cert.pem" }, "2"),
      "cert_url_not_allowed",
    ],
    ["SignatureVersion 3", () => ({ ...signed(NOTIFICATION, "2"), SignatureVersion: "3" }), "malformed_message"],
    ["no Signature", () => (({ Signature: _s, ...rest }) => rest)(signed(NOTIFICATION, "2")), "malformed_message"],
    ["Signature not base64", () => ({ ...signed(NOTIFICATION, "2"), Signature: "%%%" }), "malformed_signature"],
    ["unknown Type", () => ({ ...signed(NOTIFICATION, "2"), Type: "Other" }), "malformed_message"],
    ["confirmation without Token", () => (({ Token: _t, ...rest }) => rest)(signed(CONFIRMATION, "2")), "malformed_message"],
    ["not an object", () => "Notification", "malformed_message"],
  ];
  it.each(refused)("refuses: %s", async (_name, message, reason) => {
    expect(await verify(message(), options())).toEqual({ ok: false, reason });
  });

  it("refuses a certificate that is not one", async () => {
    const result = await verify(signed(NOTIFICATION, "2"), {
      ...options(),
      certificatePem: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
    });
    expect(result).toEqual({ ok: false, reason: "bad_certificate" });
  });
});

describe("sns certUrlAllowed", () => {
  const cases: Array<[string, boolean]> = [
    [CERT_URL, true],
    ["https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem", true],
    ["https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem", true],
    ["https://SNS.US-EAST-1.AMAZONAWS.COM/SimpleNotificationService-abc.pem", true],
    ["http://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem", false],
    ["https://sns.us-east-1.amazonaws.com.evil.com/SimpleNotificationService-abc.pem", false],
    ["https://evil.com/sns.us-east-1.amazonaws.com.pem", false],
    ["https://s3.amazonaws.com/SimpleNotificationService-abc.pem", false],
    ["https://sns.amazonaws.com/SimpleNotificationService-abc.pem", false],
    ["https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.crt", false],
    ["https://sns.us-east-1.amazonaws.com/cert?x=.pem", false],
    ["https://sns.us-east-1.amazonaws.com:8443/SimpleNotificationService-abc.pem", false],
    ["https://user:pass@sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem", false],
    ["https://evil.com\\@sns.us-east-1.amazonaws.com/x.pem", false],
    ["not a url", false],
  ];
  it.each(cases)("%s → %s", (url, allowed) => {
    expect(certUrlAllowed(url)).toBe(allowed);
  });
  it("takes another host pattern", () => {
    expect(certUrlAllowed("https://sns.test/cert.pem", /^sns\.test$/)).toBe(true);
    expect(certUrlAllowed(CERT_URL, /^sns\.test$/)).toBe(false);
  });
});

describe("sns topicAllowed", () => {
  it.each([
    [TOPIC, [TOPIC], true],
    [TOPIC, ["arn:aws:sns:us-west-2:123456789012:Other", TOPIC], true],
    [`${TOPIC}2`, [TOPIC], false],
    [TOPIC.toLowerCase(), [TOPIC], false],
    [TOPIC, [], false],
  ] as Array<[string, string[], boolean]>)("%s in %j → %s", (arn, topics, allowed) => {
    expect(topicAllowed(arn, topics)).toBe(allowed);
  });
});
