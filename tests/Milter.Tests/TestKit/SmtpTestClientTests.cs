using System.Net;
using System.Net.Sockets;
using System.Text;
using Milter.TestKit.Smtp;

namespace Milter.Tests.TestKit;

public sealed class SmtpTestClientTests
{
    [Fact]
    public void Data_is_dot_stuffed_with_crlf_line_ends()
    {
        var encoded = Encoding.ASCII.GetString(SmtpTestClient.EncodeData("a\n.b\r\n..c\rd"u8));
        Assert.Equal("a\r\n..b\r\n...c\r\nd\r\n.\r\n", encoded);
    }

    [Fact]
    public async Task The_smtp_client_reports_a_refusal_as_a_reply_not_an_exception()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var server = Task.Run(async () =>
        {
            using var socket = await listener.AcceptSocketAsync();
            using var stream = new NetworkStream(socket);
            using var reader = new StreamReader(stream, Encoding.ASCII);
            await using var writer = new StreamWriter(stream, Encoding.ASCII) { NewLine = "\r\n", AutoFlush = true };
            await writer.WriteLineAsync("220-fake");
            await writer.WriteLineAsync("220 ready");
            Assert.StartsWith("EHLO", await reader.ReadLineAsync());
            await writer.WriteLineAsync("250-fake\r\n250 8BITMIME");
            Assert.Equal("MAIL FROM:<a@example.test>", await reader.ReadLineAsync());
            await writer.WriteLineAsync("451 4.7.1 try later");
            Assert.Equal("QUIT", await reader.ReadLineAsync());
            await writer.WriteLineAsync("221 bye");
        });
        var result = await SmtpTestClient.SendAsync("127.0.0.1", port, "a@example.test", ["b@example.org"], "x"u8.ToArray());
        await server;
        listener.Stop();
        Assert.Equal("fake\nready", result.Steps[0].Reply.Text);
        Assert.Equal(451, result.ReplyTo("MAIL")!.Code);
        Assert.Null(result.ReplyTo("RCPT"));
        Assert.False(result.Accepted);
    }
}
