using Milter.Keys.Rotation;

namespace Milter.Tests.Keys;

/// <summary>Issue 18 part 4: the names of new selectors.</summary>
public sealed class RotationSelectorTests
{
    private static readonly DateTimeOffset Day = new(2026, 12, 4, 9, 30, 0, TimeSpan.Zero);

    [Fact]
    public void A_new_selector_is_the_algorithm_letter_and_the_UTC_date()
    {
        Assert.Equal("r20261204", RotationSelector.Next("rsa-sha256", Day, _ => false));
        Assert.Equal("e20261204", RotationSelector.Next("ed25519-sha256", Day, _ => false));
        // 23:30 in New York on 4 December is 5 December in UTC.
        Assert.Equal("r20261205", RotationSelector.Next("rsa-sha256", new DateTimeOffset(2026, 12, 4, 23, 30, 0, TimeSpan.FromHours(-5)), _ => false));
    }

    [Fact]
    public void A_taken_name_on_the_same_day_never_collides_the_next_free_letter_is_used()
    {
        // The active key of the day's first rotation is r20261204: a second rotation that day gets r20261204b.
        var taken = new HashSet<string> { "r20261204" };
        Assert.Equal("r20261204b", RotationSelector.Next("rsa-sha256", Day, taken.Contains));
        taken.Add("r20261204b");
        Assert.Equal("r20261204c", RotationSelector.Next("rsa-sha256", Day, taken.Contains));
        // The other algorithm's names are apart.
        Assert.Equal("e20261204", RotationSelector.Next("ed25519-sha256", Day, taken.Contains));
    }

    [Fact]
    public void When_every_name_of_the_day_is_taken_there_is_none()
        => Assert.Null(RotationSelector.Next("rsa-sha256", Day, _ => true));
}
