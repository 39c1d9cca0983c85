using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Milter.TestKit.Smtp;

/// <summary>
/// A small SMTP client for tests (RFC 5321): plain TCP, no TLS, no auth. Every command returns the server's
/// reply so a test can assert 250 against 4xx/5xx; the transcript (C:/S: lines) goes into failure messages.
/// Each read is bounded by the timeout given at connect time.
/// </summary>
public sealed class SmtpTestClient : IAsyncDisposable
{
    private const int MaxReplyLines = 100;
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly TimeSpan _timeout;
    private readonly StringBuilder _transcript = new();
    private readonly byte[] _buffer = new byte[8192];
    private int _bufferStart;
    private int _bufferEnd;

    private SmtpTestClient(TcpClient tcp, TimeSpan timeout)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
        _timeout = timeout;
    }

    public string Transcript => _transcript.ToString();

    /// <summary>Connects and reads the greeting (returned as <see cref="Banner"/>).</summary>
    public static async Task<SmtpTestClient> ConnectAsync(string host, int port, TimeSpan? timeout = null,
        CancellationToken ct = default)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(30);
        var tcp = new TcpClient { NoDelay = true };
        try
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            cts.CancelAfter(limit);
            await tcp.ConnectAsync(host, port, cts.Token);
            var client = new SmtpTestClient(tcp, limit);
            client.Banner = await client.ReadReplyAsync(ct);
            return client;
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
    }

    public SmtpReply Banner { get; private set; } = new(0, "");

    /// <summary>Sends one command line (CRLF added) and reads the reply.</summary>
    public async Task<SmtpReply> CommandAsync(string line, CancellationToken ct = default)
    {
        if (line.Contains('\r') || line.Contains('\n'))
            throw new ArgumentException("an SMTP command is one line", nameof(line));
        _transcript.Append("C: ").Append(line).Append('\n');
        await WriteAsync(Encoding.ASCII.GetBytes(line + "\r\n"), ct);
        return await ReadReplyAsync(ct);
    }

    /// <summary>EHLO, then XCLIENT with the given attributes; on 220 the session restarts, so EHLO again.
    /// Returns the XCLIENT reply.</summary>
    public async Task<SmtpReply> XClientAsync(XClientAttributes attributes, string helo, CancellationToken ct = default)
    {
        var parts = new List<string>();
        void Add(string name, string? value)
        {
            if (value is not null)
                parts.Add($"{name}={XText(value)}");
        }
        Add("ADDR", attributes.Addr);
        Add("NAME", attributes.Name);
        Add("HELO", attributes.Helo);
        Add("PROTO", attributes.Proto);
        Add("PORT", attributes.Port?.ToString(CultureInfo.InvariantCulture));
        Add("LOGIN", attributes.Login);
        var reply = await CommandAsync("XCLIENT " + string.Join(' ', parts), ct);
        // The session restarts; a new EHLO would replace the HELO name XCLIENT just set, so repeat that one.
        if (reply.Code == 220)
            await CommandAsync("EHLO " + (attributes.Helo ?? helo), ct);
        return reply;
    }

    /// <summary>DATA; on 354 sends the message with CRLF line ends and dot-stuffing (RFC 5321 4.5.2), then
    /// the final "." and returns that reply (or the DATA reply when it was not 354).</summary>
    public async Task<SmtpReply> DataAsync(byte[] message, CancellationToken ct = default)
    {
        var reply = await CommandAsync("DATA", ct);
        if (reply.Code != 354)
            return reply;
        _transcript.Append(CultureInfo.InvariantCulture, $"C: <{message.Length} bytes>\n");
        await WriteAsync(EncodeData(message), ct);
        _transcript.Append("C: .\n");
        return await ReadReplyAsync(ct);
    }

    /// <summary>The DATA payload for <paramref name="message"/>: bare LF and CR become CRLF, a leading dot is
    /// doubled, and the terminating CRLF.CRLF is appended.</summary>
    public static byte[] EncodeData(ReadOnlySpan<byte> message)
    {
        var output = new MemoryStream(message.Length + 64);
        bool lineStart = true;
        for (int i = 0; i < message.Length; i++)
        {
            byte b = message[i];
            if (b == '\r' || b == '\n')
            {
                if (b == '\r' && i + 1 < message.Length && message[i + 1] == '\n')
                    i++;
                output.Write("\r\n"u8);
                lineStart = true;
                continue;
            }
            if (lineStart && b == '.')
                output.WriteByte((byte)'.');
            output.WriteByte(b);
            lineStart = false;
        }
        if (!lineStart)
            output.Write("\r\n"u8);
        output.Write(".\r\n"u8);
        return output.ToArray();
    }

    /// <summary>One whole transaction: EHLO, optional XCLIENT (and EHLO again), MAIL FROM, RCPT TO for each
    /// recipient, DATA and QUIT. Stops at the first refused stage (MAIL refused, or no recipient accepted)
    /// and returns every step; SMTP refusals are results, only network errors and timeouts throw.</summary>
    public static async Task<SmtpTransaction> SendAsync(string host, int port, string from, IEnumerable<string> to,
        byte[] message, XClientAttributes? xclient = null, string helo = "client.example.test",
        TimeSpan? timeout = null, CancellationToken ct = default)
    {
        await using var client = await ConnectAsync(host, port, timeout, ct);
        var steps = new List<SmtpStep> { new("<connect>", client.Banner) };
        try
        {
            if (client.Banner.Code != 220)
                return new SmtpTransaction(steps, client.Transcript);
            steps.Add(new("EHLO " + helo, await client.CommandAsync("EHLO " + helo, ct)));
            if (xclient is not null)
            {
                var reply = await client.XClientAsync(xclient, helo, ct);
                steps.Add(new("XCLIENT", reply));
                if (reply.Code != 220)
                    return await client.QuitAsync(steps, ct);
            }
            var mail = await client.CommandAsync($"MAIL FROM:<{from}>", ct);
            steps.Add(new($"MAIL FROM:<{from}>", mail));
            if (!mail.IsPositive)
                return await client.QuitAsync(steps, ct);
            bool anyRecipient = false;
            foreach (string recipient in to)
            {
                var rcpt = await client.CommandAsync($"RCPT TO:<{recipient}>", ct);
                steps.Add(new($"RCPT TO:<{recipient}>", rcpt));
                anyRecipient |= rcpt.IsPositive;
            }
            if (!anyRecipient)
                return await client.QuitAsync(steps, ct);
            var data = await client.CommandAsync("DATA", ct);
            steps.Add(new("DATA", data));
            if (data.Code != 354)
                return await client.QuitAsync(steps, ct);
            client._transcript.Append(CultureInfo.InvariantCulture, $"C: <{message.Length} bytes>\nC: .\n");
            await client.WriteAsync(EncodeData(message), ct);
            steps.Add(new(".", await client.ReadReplyAsync(ct)));
            return await client.QuitAsync(steps, ct);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            throw new IOException($"SMTP session with {host}:{port} broke off: {e.Message}\n{client.Transcript}", e);
        }
    }

    private async Task<SmtpTransaction> QuitAsync(List<SmtpStep> steps, CancellationToken ct)
    {
        try
        {
            await CommandAsync("QUIT", ct);
        }
        catch (IOException)
        {
            // The server may already have closed the connection after a refusal.
        }
        return new SmtpTransaction(steps, Transcript);
    }

    /// <summary>Reads one (possibly multi-line) reply: "250-..." lines until "250 ...".</summary>
    public async Task<SmtpReply> ReadReplyAsync(CancellationToken ct = default)
    {
        var text = new StringBuilder();
        for (int lines = 0; lines < MaxReplyLines; lines++)
        {
            string line = await ReadLineAsync(ct);
            _transcript.Append("S: ").Append(line).Append('\n');
            if (line.Length < 3 || !int.TryParse(line.AsSpan(0, 3), NumberStyles.None, CultureInfo.InvariantCulture, out int code))
                throw new IOException($"malformed SMTP reply line '{line}'\n{Transcript}");
            if (text.Length > 0)
                text.Append('\n');
            text.Append(line.Length > 4 ? line[4..] : "");
            if (line.Length == 3 || line[3] == ' ')
                return new SmtpReply(code, text.ToString());
        }
        throw new IOException($"SMTP reply longer than {MaxReplyLines} lines\n{Transcript}");
    }

    private async Task<string> ReadLineAsync(CancellationToken ct)
    {
        var line = new List<byte>();
        while (true)
        {
            if (_bufferStart == _bufferEnd)
            {
                using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
                cts.CancelAfter(_timeout);
                int read;
                try
                {
                    read = await _stream.ReadAsync(_buffer, cts.Token);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    throw new IOException($"no SMTP reply within {_timeout.TotalSeconds:0.#}s\n{Transcript}");
                }
                if (read == 0)
                    throw new IOException($"the server closed the connection\n{Transcript}");
                _bufferStart = 0;
                _bufferEnd = read;
            }
            byte b = _buffer[_bufferStart++];
            if (b == '\n')
                return Encoding.UTF8.GetString([.. line]).TrimEnd('\r');
            if (line.Count > 4096)
                throw new IOException($"SMTP reply line longer than 4096 bytes\n{Transcript}");
            line.Add(b);
        }
    }

    private async Task WriteAsync(byte[] bytes, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(_timeout);
        await _stream.WriteAsync(bytes, cts.Token);
    }

    /// <summary>xtext (RFC 3461 4): '+', '=' and bytes outside 33..126 become +HH.</summary>
    private static string XText(string value)
    {
        var sb = new StringBuilder();
        foreach (byte b in Encoding.UTF8.GetBytes(value))
        {
            if (b is < 33 or > 126 or (byte)'+' or (byte)'=')
                sb.Append(CultureInfo.InvariantCulture, $"+{b:X2}");
            else
                sb.Append((char)b);
        }
        return sb.ToString();
    }

    public ValueTask DisposeAsync()
    {
        _stream.Dispose();
        _tcp.Dispose();
        return ValueTask.CompletedTask;
    }
}
