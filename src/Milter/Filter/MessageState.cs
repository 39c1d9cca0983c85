using System.Net;

namespace Milter.Filter;

/// <summary>What the filter knows of one connection and its current message.</summary>
internal sealed class MessageState
{
    public string? ClientName { get; set; }
    public IPAddress? ClientAddress { get; set; }
    public string? Helo { get; set; }
    public string? MailFrom { get; set; }
    public bool Authenticated { get; set; }
    /// <summary>Header names in arrival order with their exact raw values (bounded by <see cref="AuthFilter.MaxHeaders"/>).</summary>
    public List<(string Name, byte[] Value)> Headers { get; } = new();
    public long HeaderBytes { get; set; }
    public bool HeadersTruncated { get; set; }
    public long BodyBytes { get; set; }
    public long StartTimestamp { get; set; }

    public void ResetMessage()
    {
        MailFrom = null;
        Authenticated = false;
        Headers.Clear();
        HeaderBytes = 0;
        HeadersTruncated = false;
        BodyBytes = 0;
        StartTimestamp = 0;
    }
}
