using System.Text;

namespace Milter.Tests.TestKit;

/// <summary>Small messages and waits shared by the TestKit tests.</summary>
internal static class TestMail
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    public static byte[] Message(string subject, string body) => Encoding.ASCII.GetBytes(
        $"From: Alice <alice@example.test>\r\nTo: bob@example.org\r\nSubject: {subject}\r\n" +
        $"Message-ID: <{Guid.NewGuid():N}@example.test>\r\n\r\n{body}");
}
