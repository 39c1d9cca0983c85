namespace Milter.Protocol.Wire;

public static class WireConstants
{
    /// <summary>MILTER_CHUNK_SIZE: the largest body chunk (SMFIC_BODY, SMFIR_REPLBODY).</summary>
    public const int ChunkSize = 65535;
    /// <summary>Postfix reads no reply packet bigger than this (MILTER_MAX_DATA_SIZE).</summary>
    public const int MaxReplyDataSize = 65535;
    /// <summary>The newest protocol version (SMFI_PROT_VERSION).</summary>
    public const uint ProtocolVersion = 6;
    public const uint MinProtocolVersion = 2;

    private static readonly byte[][] s_simpleReplies = BuildSimpleReplies();

    /// <summary>A ready-made frame for a response without data (CONTINUE, ACCEPT, ...): no allocation per reply.</summary>
    public static ReadOnlyMemory<byte> SimpleReply(MilterResponseCode code) => s_simpleReplies[(byte)code];

    private static byte[][] BuildSimpleReplies()
    {
        var all = new byte[256][];
        for (var i = 0; i < 256; i++) all[i] = [0, 0, 0, 1, (byte)i];
        return all;
    }
}
