using Milter.Configuration;
using Milter.Reporting.Aggregate;

namespace Milter.Tests.Reporting;

/// <summary>A malformed Reports:ConnectionString is a config error that shows nothing of the string: not its text,
/// and not the piece of a password that an unquoted ';' turns into an unknown keyword.</summary>
public sealed class ReportStoreConfigTests
{
    [Theory]
    [InlineData("Host=db.example;Username=milter;Password=s3cr;etPart=x", "etPart")]
    [InlineData("Host=db.example;Password=ab;cdxy=ef", "cdxy")]
    public void A_bad_connection_string_error_shows_no_part_of_it(string connectionString, string passwordPiece)
    {
        var reports = new ReportsSection { Store = "postgresql", ConnectionString = connectionString };
        var problem = Assert.Single(ReportStoreStartup.Problems(reports));
        Assert.Equal("Reports:ConnectionString", problem.Key);
        Assert.Equal(ReportStoreStartup.HiddenValue, problem.Value);
        Assert.StartsWith("not a valid Npgsql connection string", problem.Text, StringComparison.Ordinal);
        Assert.DoesNotContain(passwordPiece, problem.Text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("db.example", problem.Text, StringComparison.OrdinalIgnoreCase);
    }
}
