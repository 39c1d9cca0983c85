using Milter.TestKit;
using Xunit.Abstractions;

namespace Milter.Containers.Tests;

/// <summary>
/// <see cref="LabImages.PruneAsync"/> past its keep count: five builds of a one-label image on the local Debian base,
/// each tagged lab-N as the fixture tags its builds; pruning after the fifth removes the two oldest and keeps the
/// newest <see cref="LabImages.KeptOlderBuilds"/> older ones and the current one. Other images' tags are not touched.
/// </summary>
[Collection(ContainersCollection.Name)]
public sealed class LabImagePruneTests(LabImages images, ITestOutputHelper output)
{
    private readonly LabImages _images = images;
    private const string Name = "milter-prune-check";

    [Fact]
    public async Task After_a_new_build_only_the_newest_older_lab_tags_stay()
    {
        using var dir = new TempDir("prune-check");
        var tags = new List<string>();
        try
        {
            for (int i = 1; i <= 5; i++)
            {
                await File.WriteAllTextAsync(dir.File("Containerfile"), $"FROM {LabImages.Debian}\nLABEL prune-check={i}-{Guid.NewGuid():N}\n");
                string tag = $"localhost/{Name}:lab-{i}";
                var build = await Podman.RunAsync("build", "--pull=never", "--network", "none", "-t", tag, dir.Path);
                Assert.True(build.Succeeded, build.Describe());
                tags.Add(tag);
                await Task.Delay(1100); // created times a second apart, so the newest-first order is certain
            }
            string milterBefore = await Podman.OutputAsync("image", "inspect", "--format", "{{.Id}}", LabImages.Milter);

            await LabImages.PruneAsync(Name, tags[^1]);

            var kept = new List<string>();
            foreach (string tag in tags)
                if (await Podman.ExistsAsync("image", tag)) kept.Add(tag);
            output.WriteLine("kept: " + string.Join(", ", kept));
            Assert.Equal(tags.Skip(5 - 1 - LabImages.KeptOlderBuilds), kept);
            Assert.Equal(milterBefore, await Podman.OutputAsync("image", "inspect", "--format", "{{.Id}}", LabImages.Milter));
        }
        finally
        {
            foreach (string tag in tags)
                await Podman.RunAsync("rmi", "--force", tag);
        }
    }
}
