using System.Text;
using Milter.Commands;

namespace Milter.Tests.Commands;

/// <summary>What `verify` and `check` take for a message (RFC 5322 sections 2.2 and 3.5).</summary>
public sealed class CliStdinTests
{
    private static string? Reason(string text) => CliStdin.NotAMessageReason(Encoding.Latin1.GetBytes(text));

    [Theory]
    [InlineData("From: a@b.test\r\n\r\nbody\r\n")]
    [InlineData("From: a@b.test\r\nSubject: headers only\r\n")]
    [InlineData("From: a@b.test")]
    [InlineData("Received : obsolete space before the colon\r\n\r\n")]
    [InlineData("X-Empty:\r\n")]
    public void Messages_are_accepted(string text) => Assert.Null(Reason(text));

    [Theory]
    [InlineData("", "the input is empty")]
    [InlineData("From: a@b.test\r\n\r\nbody\0", "NUL byte at offset 22")]
    [InlineData("From alice@b.test Tue Nov 25 10:00:00 2025\r\nFrom: a@b.test\r\n", "first line is not a header field")]
    [InlineData(": no name\r\n", "first line is not a header field")]
    [InlineData(" From: folded first\r\n", "first line is not a header field")]
    [InlineData("\r\nbody only\r\n", "starts with an empty line")]
    public void Non_messages_are_refused_with_a_reason(string text, string why)
        => Assert.Contains(why, Reason(text), StringComparison.Ordinal);
}
